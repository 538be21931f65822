"""A replica gives memory back once it has been idle for a moment, not after every job; its
threads share one glibc arena."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from deployments.common import memory

ROOT = Path(__file__).resolve().parents[3]


async def wait_for(condition, timeout_s: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)


async def test_memory_comes_back_once_idle_for_a_moment():
    released = []
    jobs = memory.Jobs(lambda: released.append(True), idle_s=0.2)
    async with jobs.job():
        pass
    await asyncio.sleep(0.1)
    assert released == []  # not yet: another job may follow at once
    await wait_for(lambda: jobs.given_back == 1)
    assert released == [True]


async def test_back_to_back_jobs_keep_their_pools():
    jobs = memory.Jobs(idle_s=0.2)
    for _ in range(4):
        async with jobs.job():
            await asyncio.sleep(0.05)
    assert jobs.given_back == 0  # each new job came within the idle wait
    await wait_for(lambda: jobs.given_back == 1)


async def test_nothing_is_given_back_while_a_job_runs():
    jobs = memory.Jobs(idle_s=0.05)
    async with jobs.job():
        async with jobs.job():
            pass
        await asyncio.sleep(0.2)  # the inner job ended, the outer one still runs
        assert jobs.given_back == 0
    await wait_for(lambda: jobs.given_back == 1)


def test_rss_figures_come_from_proc():
    figures = memory.figures()
    assert figures["rss_mb"] > 10
    assert figures["peak_rss_mb"] >= figures["rss_mb"]
    assert 0 < figures["own_mb"] <= figures["rss_mb"]
    assert memory.reset_peak()


ARENAS = """
import ctypes, sys, threading
from deployments.common import memory
if sys.argv[1] == "one":
    assert memory.one_arena()
def work():
    global kept
    kept = [bytearray(2000) for _ in range(20000)]  # small blocks: from an arena, not mmap
threads = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
out = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(out))
libc.fclose(ctypes.c_void_p(out))
"""


@pytest.mark.parametrize("mode, many", [("default", True), ("one", False)])
def test_replica_threads_share_one_arena(tmp_path, mode, many):
    """glibc gives each new thread an arena of its own by default (the first case shows it on
    this machine); after one_arena() threads allocate from the main one."""
    report = tmp_path / "malloc_info.xml"
    subprocess.run([sys.executable, "-c", ARENAS, mode, str(report)], check=True, cwd=ROOT)
    heaps = report.read_text().count("<heap nr=")
    assert (heaps > 1) == many, heaps

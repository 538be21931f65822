"""The laptop profile's replicas. Memory comes back: a large job in a real Upscaler replica
raises its RSS well above its warmed-up baseline, and within 30 s of the job's end it is back
within 10 % of it (deployments/common/memory.py: ncnn's pools released, glibc's heap
trimmed). And a replica on the shared cores (num_cpus 0) uses all of them."""

from __future__ import annotations

import os
import time

import pytest

from loadtest.photos import photo
from tests.helpers.service import poll, submit

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def settled(status, seconds: float = 3.0) -> float:
    """The replica's own memory (RSS less the pages of Ray's object store it maps: a result it
    wrote stays mapped until the store reuses the space) once idle for a moment."""
    time.sleep(seconds)
    return status()["own_mb"]


def test_a_large_job_gives_its_memory_back_within_30_s(service, key, handles):
    upscaler = handles("Upscaler")

    def status():
        return upscaler.status.remote().result(timeout_s=30)

    warm = submit(service, key, photo("astronaut", 64), scale="4", model="fast")
    assert poll(service, key, warm)["status"] == "done"
    baseline = settled(status)
    assert upscaler.reset_peak_memory.remote().result(timeout_s=30)

    job_id = submit(service, key, photo("coffee", 1024), size="4K", model="fast")
    body = poll(service, key, job_id)
    assert body["status"] == "done", body
    assert (body["width"], body["height"]) == (3840, 3840)
    peak = status()["peak_rss_mb"]
    # 3840x3840 RGB stitched and resized in the replica: far above an idle replica
    assert peak > baseline + 150, (baseline, peak)

    deadline, rss, after = time.monotonic() + 30, None, {}
    while time.monotonic() < deadline:
        after = status()
        rss = after["own_mb"]
        if rss <= baseline * 1.1:
            break
        time.sleep(1)
    print(
        f"\nUpscaler: baseline {baseline:.0f} MB, peak RSS {peak:.0f} MB, after {rss:.0f} MB"
        f" (+ {after['shared_mb']:.0f} MB of Ray's object store mapped)"
    )
    assert rss <= baseline * 1.1, (baseline, peak, after)


@pytest.mark.parametrize("deployment", ["Segmenter", "Eraser", "BackgroundRemover"])
def test_a_replica_on_the_shared_cores_uses_every_core(handles, deployment):
    """num_cpus 0 in the laptop profile: Ray assigns no CPU, and the replica takes them all
    (it once fell back to one thread, doubling SAM's encoder time)."""

    status = handles(deployment).status.remote().result(timeout_s=60)
    assert status["threads"] == os.cpu_count()

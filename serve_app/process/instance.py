"""One running service per data dir, and nothing left behind by one that died.

The runner holds an exclusive lock on `<data dir>/run.lock` while it runs: a second
`photoserve run` on the same data dir is refused with a sentence, not a Ray traceback. Every
process it starts (Redis, the Ray driver, and through it Ray and HAProxy) carries
`PHOTOSERVE_INSTANCE=<data dir>` in its environment, so whatever a killed runner left
behind is found and stopped by the next start (and said so) without trusting recorded pids.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

MARK = "PHOTOSERVE_INSTANCE"
LOCK_FILE = "run.lock"


class AlreadyRunning(RuntimeError):
    pass


@contextlib.contextmanager
def exclusive(data_dir: Path) -> Iterator[None]:
    """Held for as long as this process runs the service on `data_dir`."""
    handle = open(data_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held open on purpose
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise AlreadyRunning(
            f"photoserve is already running with the data dir {data_dir}: stop it first, "
            "or start another one with its own PHOTOSERVE_DATA_DIR and PHOTOSERVE_PORT."
        ) from exc
    try:
        yield
    finally:
        handle.close()


def marked(data_dir: Path) -> dict[str, str]:
    return {MARK: str(data_dir)}


def _carries(pid: int, mark: bytes) -> bool:
    try:
        return mark in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, or not ours to read
        return False


def leftovers(data_dir: Path) -> list[int]:
    """Processes a run on `data_dir` started (other than this one)."""
    mark = f"{MARK}={data_dir}".encode()
    pids = (int(name) for name in os.listdir("/proc") if name.isdigit())
    return [pid for pid in pids if pid != os.getpid() and _carries(pid, mark)]


def clean_up(data_dir: Path, wait_s: float = 5.0) -> list[int]:
    """Kill what a previous run left behind; returns their pids."""
    found = leftovers(data_dir)
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while leftovers(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found

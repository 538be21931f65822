"""Resident memory of this process, from /proc (Linux): current, peak, and a peak reset so a
single job's high-water mark can be measured; and giving memory back once a replica's last
job has ended (its runtimes' pools, then glibc's free lists).

Without that, a replica keeps the high-water mark of its largest job for good: ncnn's
allocator pools hold every blob a tile ever needed, and glibc keeps freed heap in its arenas
(measured: an Upscaler stayed at 8 GB after one large job).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _field_mb(name: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_mb() -> float | None:
    return _field_mb("VmRSS")


def peak_rss_mb() -> float | None:
    return _field_mb("VmHWM")


def figures() -> dict[str, float | None]:
    """The figures a replica's status reports. `shared_mb` is the part of the RSS that is
    Ray's object store (results on their way out, mapped into the replica that wrote them:
    one store per node, bounded by its own size, whoever maps it); `own_mb` is the rest, the
    replica's own memory."""
    rss, shared = rss_mb(), _field_mb("RssShmem")
    own = None if rss is None else rss - (shared or 0.0)
    return {"rss_mb": rss, "peak_rss_mb": peak_rss_mb(), "shared_mb": shared, "own_mb": own}


def reset_peak() -> bool:
    """Set the peak back to the current RSS (writing 5 to clear_refs, Linux >= 4.0)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


class Measured:
    """A replica whose peak can be measured job by job (its status reports figures())."""

    def reset_peak_memory(self) -> bool:
        return reset_peak()


@functools.cache
def _libc() -> ctypes.CDLL | None:
    # find_library runs ldconfig in a subprocess: once per replica, not once per idle moment
    with contextlib.suppress(OSError):
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return None


def _glibc(name: str) -> Callable[..., int] | None:
    return getattr(_libc(), name, None)


def trim() -> None:
    """Hand glibc's free heap back to the system (a no-op where there is no glibc)."""
    release = _glibc("malloc_trim")
    if release is not None:
        release(0)


M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


def one_arena() -> bool:
    """Every thread created from now on allocates from glibc's main arena. The networks run
    in asyncio.to_thread's threads, and with an arena per thread (glibc's default, up to 8
    per core) freed activations sat in one arena while the next job allocated in another:
    GFPGAN peaked 805 MB above its baseline in a worker thread against 700 MB in one arena,
    at the same speed (3.1-3.2 s a face on 2 cores). Call before the replica starts threads."""
    set_option = _glibc("mallopt")
    return bool(set_option and set_option(M_ARENA_MAX, 1))


IDLE_S = 2.0  # a replica idle this long gives its memory back


class Jobs:
    """Counts a replica's jobs in flight; once the last one has ended and `idle_s` has passed
    with no new one, calls `release` (each runtime's pools) and trims the heap, off the event
    loop. The wait spares back-to-back jobs rebuilding the pools every time (measured on the
    fast x4 256² job: see the README's Memory section)."""

    def __init__(self, release: Callable[[], None] = lambda: None, idle_s: float = IDLE_S):
        self.release = release
        self.idle_s = idle_s
        self.active = 0
        self.given_back = 0
        self._timer: asyncio.TimerHandle | None = None

    @contextlib.asynccontextmanager
    async def job(self) -> AsyncIterator[None]:
        self.active += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            yield
        finally:
            self.active -= 1
            if self.active == 0:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(self.idle_s, self._when_idle, loop)

    def _when_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if self.active == 0:
            loop.run_in_executor(None, self.give_back)

    def give_back(self) -> None:
        self.release()
        trim()
        self.given_back += 1


def gives_memory_back(method):
    """For a replica's streaming job method: the job counts in `self.jobs`, so the memory it
    took comes back once the replica has no job left."""

    @functools.wraps(method)
    async def job(self, *args, **kwargs):
        async with self.jobs.job():
            async for event in method(self, *args, **kwargs):
                yield event

    return job

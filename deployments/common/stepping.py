"""Step-wise work in a thread (a diffusion pipeline's denoising loop), streamed to an async
generator: progress out, cancellation in.

A diffusers pipeline is not reentrant (its scheduler keeps per-call state), so calls run one at
a time behind a lock held by the worker thread itself: a cancelled request cannot let the next
one start while its thread is still denoising. Step progress crosses from that thread to the
async generator through an asyncio.Queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

_DONE = object()


class Cancelled(Exception):
    """The request went away: stop at the next step."""


async def in_thread(work: Callable[[Callable[[float], None]], Any], gate: threading.Lock):
    """Run `work(on_step)` in a thread holding `gate`; yield {"progress": f} for each on_step
    while it runs, then {"result": its return value}. Closing the stream makes the next
    on_step raise Cancelled in the thread."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue = asyncio.Queue()
    cancelled = threading.Event()

    def send(item: object) -> None:
        # the loop may have closed under a cancelled request
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(events.put_nowait, item)

    def on_step(fraction: float) -> None:
        if cancelled.is_set():
            raise Cancelled
        send(fraction)

    def locked():
        try:
            with gate:
                if cancelled.is_set():
                    raise Cancelled
                return work(on_step)
        finally:
            send(_DONE)

    task = asyncio.ensure_future(asyncio.to_thread(locked))
    task.add_done_callback(_consume)
    try:
        while (fraction := await events.get()) is not _DONE:
            yield {"progress": fraction}
        result = await task
    finally:
        cancelled.set()  # no effect once the work is done
    yield {"result": result}


def _consume(task: asyncio.Future) -> None:
    # a cancelled request leaves its task unawaited: mark the exception read, or asyncio logs
    # "exception was never retrieved" for what is an expected Cancelled
    if not task.cancelled():
        task.exception()

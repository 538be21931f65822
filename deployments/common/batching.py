"""The one batching helper: items of concurrent requests go through a model together, with
the limits a deployment's user_config gives under `batching:`, changed without a redeploy.
Batch sizes are recorded for /metrics.

A batch is formed when the model is free to run it, from everything that queued meanwhile.
`@serve.batch` (Ray 2.60) forms each batch as soon as an item arrives and only then waits for a
free slot: with one batch at a time and no wait, items that arrive while a batch runs each
became a batch of their own (8 concurrent upscale jobs: 8 batches of one tile) - nothing was
ever batched on the CPU profile. `batch_wait_timeout_s` still holds a batch that is not full
for more items, counted from its first item's arrival.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from serve_app.core.metrics import BatchRecorder


@dataclass(frozen=True)
class BatchSettings:
    max_batch_size: int = 1  # items per batch (or what batch_size_fn counts: pixels)
    batch_wait_timeout_s: float = 0.0
    max_concurrent_batches: int = 1

    @classmethod
    def parse(cls, user_config: dict[str, Any] | None, default: BatchSettings) -> BatchSettings:
        given = (user_config or {}).get("batching")
        return cls(**given) if given else default


@dataclass
class _Waiting:
    item: Any
    future: asyncio.Future
    since: float


class Batcher:
    """`await batcher(item)` -> `run_batch`'s output for that item."""

    def __init__(
        self,
        deployment: str,
        run_batch: Callable[[list], Awaitable[list]],
        settings: BatchSettings,
        size_fn: Callable[[list], int] | None = None,
    ):
        self.run_batch = run_batch
        self.size_fn = size_fn or len
        self.sizes = BatchRecorder(deployment)
        self.settings = settings
        self.pending: deque[_Waiting] = deque()
        self.running: set[asyncio.Task] = set()
        self._timer: asyncio.TimerHandle | None = None

    def configure(self, settings: BatchSettings) -> None:
        """New limits apply from the next batch formed."""
        self.settings = settings

    async def __call__(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        if self.size_fn([item]) > self.settings.max_batch_size:
            raise ValueError(f"an item of size {self.size_fn([item])} exceeds max_batch_size")
        waiting = _Waiting(item, loop.create_future(), time.monotonic())
        self.pending.append(waiting)
        self._start()
        return await waiting.future

    def _start(self) -> None:
        """Form and run batches while there is room for one more."""
        while len(self.running) < self.settings.max_concurrent_batches:
            if any(waiting.future.done() for waiting in self.pending):  # callers that gave up
                self.pending = deque(w for w in self.pending if not w.future.done())
            count, full = self._fit()
            if count == 0 or (not full and self._hold()):
                return
            batch = [self.pending.popleft() for _ in range(count)]
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self.running.add(task)

    def _fit(self) -> tuple[int, bool]:
        """How many waiting items the next batch takes, and whether that fills it."""
        limit, taken = self.settings.max_batch_size, []
        for waiting in self.pending:
            if self.size_fn([*taken, waiting.item]) > limit:
                return len(taken), True
            taken.append(waiting.item)
        return len(taken), bool(taken) and self.size_fn(taken) >= limit

    def _hold(self) -> bool:
        """A batch that is not full waits for more until batch_wait_timeout_s has passed."""
        left = self.pending[0].since + self.settings.batch_wait_timeout_s - time.monotonic()
        if left <= 0:
            return False
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(left, self._timed_out)
        return True

    def _timed_out(self) -> None:
        self._timer = None
        self._start()

    async def _run(self, batch: list[_Waiting]) -> None:
        try:
            self.sizes.record(len(batch))
            outputs = await self.run_batch([waiting.item for waiting in batch])
            for waiting, output in zip(batch, outputs, strict=True):
                if not waiting.future.done():
                    waiting.future.set_result(output)
        except asyncio.CancelledError:  # the replica is stopping
            for waiting in batch:
                waiting.future.cancel()
            raise
        except Exception as exc:  # each caller gets the batch's error
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(exc)
        finally:
            self.running.discard(asyncio.current_task())
            self._start()

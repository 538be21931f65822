"""The one batching helper: items of concurrent requests go through a model together
(`@serve.batch`), with the limits a deployment's user_config gives under `batching:`,
changed without a redeploy. Batch sizes are recorded for /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from ray import serve

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
        self.size_fn = size_fn
        self.sizes = BatchRecorder(deployment)
        self.settings: BatchSettings | None = None
        self.configure(settings)

    def configure(self, settings: BatchSettings) -> None:
        """New limits make a new queue; batches already queued in the old one still run."""
        if settings == self.settings:
            return

        async def batch(items: list) -> list:
            self.sizes.record(len(items))
            return await self.run_batch(items)

        self.settings = settings
        self.queue = serve.batch(**asdict(settings), batch_size_fn=self.size_fn)(batch)

    async def __call__(self, item: Any) -> Any:
        return await self.queue(item)

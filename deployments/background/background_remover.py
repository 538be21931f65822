"""The BackgroundRemover Serve deployment: U²-Net at 320x320, batched across jobs (every
input has the same shape), then refinement and composition at full resolution per job.

Params: `bg_color` ("#rrggbb" or None) and `only_mask` (bool). Final event: {"image": RGB,
"alpha": matte} for a cut-out; {"image": RGB} alone for a flat background or the mask.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve

from deployments.background import matting
from deployments.common.replica import ModelReplica
from serve_app.core.catalog import ModelSpec
from serve_app.core.metrics import BatchRecorder

log = logging.getLogger("photoserve.background_remover")
OPERATION = "remove-background"


@dataclass(frozen=True)
class MattingBatching:
    max_batch_size: int = 8  # 320x320 inputs per U²-Net batch
    batch_wait_timeout_s: float = 0.0
    max_concurrent_batches: int = 1


@serve.deployment(name="BackgroundRemover", max_ongoing_requests=16)
class BackgroundRemover(ModelReplica):
    operation = OPERATION

    def __init__(self) -> None:
        super().__init__()
        self.batching = MattingBatching()
        self.batch_sizes = BatchRecorder("BackgroundRemover")
        self.batcher = self._make_batcher(self.batching)

    def load(self, spec: ModelSpec, path: Path) -> Any:
        from deployments.background import u2net

        network = u2net.load(path, self.device)
        # the first call pays for kernel selection and allocator growth: not a customer
        blank = np.zeros((1, 3, matting.SIZE, matting.SIZE), np.float32)
        matting.predict(network, blank, self.device)
        return network

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        batching = MattingBatching(**(user_config or {}).get("batching", {}))
        if batching != self.batching:
            # a new queue; batches already queued in the old one still run
            self.batching, self.batcher = batching, self._make_batcher(batching)

    def _make_batcher(self, batching: MattingBatching):
        async def predict_batch(inputs: list[np.ndarray]) -> list[np.ndarray]:
            self.batch_sizes.record(len(inputs))
            mattes = await asyncio.to_thread(
                matting.predict, self.network, np.stack(inputs), self.device
            )
            return list(mattes)

        return serve.batch(**asdict(batching))(predict_batch)

    def status(self) -> dict[str, Any]:
        return {**super().status(), "config": {"batching": asdict(self.batching)}}

    async def run(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        self.require_network()
        matting.check_image(image)
        bg_color = params.get("bg_color")
        if bg_color is not None:
            matting.parse_color(bg_color)
        only_mask = bool(params.get("only_mask", False))

        small = await asyncio.to_thread(matting.preprocess, image)
        yield {"progress": 0.1}
        coarse = await self.batcher(small)
        yield {"progress": 0.5}
        yield await asyncio.to_thread(matting.finish, image, coarse, bg_color, only_mask)

"""The BackgroundRemover Serve deployment: U²-Net at 320x320, batched across jobs (every
input has the same shape), then refinement and composition at full resolution per job.

Params: `bg_color` ("#rrggbb" or None) and `only_mask` (bool). Final event: {"image": RGB,
"alpha": matte} for a cut-out; {"image": RGB} alone for a flat background or the mask.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve

from deployments.background import matting
from deployments.common.batching import Batcher, BatchSettings
from deployments.common.memory import gives_memory_back
from deployments.common.replica import ModelReplica
from serve_app.core.catalog import ModelSpec
from serve_app.core.settings import get_settings

log = logging.getLogger("photoserve.background_remover")
OPERATION = "remove-background"


MATTING_BATCHING = BatchSettings(max_batch_size=8)  # 320x320 inputs per U²-Net batch


@serve.deployment(name="BackgroundRemover", max_ongoing_requests=16)
class BackgroundRemover(ModelReplica):
    operation = OPERATION

    def __init__(self) -> None:
        super().__init__()
        self.batcher = Batcher("BackgroundRemover", self._predict_batch, MATTING_BATCHING)

    def load(self, spec: ModelSpec, path: Path) -> Any:
        from deployments.background import network as u2net

        cache = get_settings().data_dir.resolve() / "cache"
        network = u2net.load(path, self.device, matting.SIZE, cache=cache, bf16=spec.ncnn_bf16)
        # the first call pays for kernel selection and allocator growth: not a customer
        matting.predict(network, np.zeros((1, 3, matting.SIZE, matting.SIZE), np.float32))
        return network

    def release(self) -> None:
        if self.network is not None:
            self.network.release()
        super().release()

    @staticmethod
    def parse_config(user_config: dict[str, Any]) -> BatchSettings:
        return BatchSettings.parse(user_config, MATTING_BATCHING)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self.batcher.configure(self.parse_config(user_config))

    async def _predict_batch(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        stacked = np.stack(inputs)
        return list(await asyncio.to_thread(matting.predict, self.network, stacked))

    def status(self) -> dict[str, Any]:
        backend = type(self.network).__name__ if self.network is not None else None
        config = {"batching": asdict(self.batcher.settings), "runtime": backend}
        return {**super().status(), "config": config}

    @gives_memory_back
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

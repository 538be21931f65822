"""The Colorizer Serve deployment: DDColor at 512x512 on the photo's lightness, batched across
jobs (every input has the same shape), then the colour joined with the full-resolution
lightness per job (ddcolor.py).

Params: none besides the output. Final event: {"image": RGB at the input's size}.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve

from deployments.colorize import ddcolor
from deployments.common.batching import Batcher, BatchSettings
from deployments.common.memory import gives_memory_back
from deployments.common.replica import ModelReplica
from serve_app.core.catalog import ModelSpec

OPERATION = "colorize"
COLOR_BATCHING = BatchSettings(max_batch_size=4)  # 512x512 inputs per DDColor batch


@serve.deployment(name="Colorizer", max_ongoing_requests=16)
class Colorizer(ModelReplica):
    operation = OPERATION

    def __init__(self) -> None:
        super().__init__()
        self.batcher = Batcher("Colorizer", self._predict_batch, COLOR_BATCHING)

    def load(self, spec: ModelSpec, path: Path) -> Any:
        return ddcolor.load(path, self.device)

    @staticmethod
    def parse_config(user_config: dict[str, Any]) -> BatchSettings:
        return BatchSettings.parse(user_config, COLOR_BATCHING)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self.batcher.configure(self.parse_config(user_config))

    async def _predict_batch(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        batch = np.stack(inputs)
        return list(await asyncio.to_thread(ddcolor.predict, self.network, batch, self.device))

    def status(self) -> dict[str, Any]:
        return {**super().status(), "config": {"batching": asdict(self.batcher.settings)}}

    @gives_memory_back
    async def run(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        self.require_network()
        small = await asyncio.to_thread(ddcolor.preprocess, image)
        yield {"progress": 0.1}
        ab = await self.batcher(small)
        yield {"progress": 0.8}
        yield {"image": await asyncio.to_thread(ddcolor.colorize, image, ab)}

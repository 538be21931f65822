"""The Eraser Serve deployment: remove what a mask covers with big-lama (deployments/erase/lama.py),
one crop around each masked region, so the cost follows the mask, not the photo."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve

from deployments.common.memory import gives_memory_back
from deployments.common.replica import ModelReplica
from serve_app.core.catalog import ModelSpec

log = logging.getLogger("photoserve.eraser")
OPERATION = "erase-object"


@dataclass(frozen=True)
class EraseSettings:
    max_side: int = 1024  # longest side LaMa runs at; a larger crop is shrunk (memory, time)
    # crops in flight at once per replica: each already uses every thread (CPU) or the
    # whole memory cap (GPU), so more only makes them fight
    concurrency: int = 1

    def __post_init__(self) -> None:
        if self.max_side < 64 or self.concurrency < 1:
            raise ValueError("max_side must be >= 64 and concurrency >= 1")


@serve.deployment(name="Eraser", max_ongoing_requests=16)
class Eraser(ModelReplica):
    operation = OPERATION

    def __init__(self) -> None:
        super().__init__()
        self.settings = EraseSettings()
        self.gate = asyncio.Semaphore(self.settings.concurrency)

    def load(self, spec: ModelSpec, path: Path) -> Any:
        from deployments.erase import lama

        return lama.load(path, self.device)

    @staticmethod
    def parse_config(user_config: dict[str, Any]) -> EraseSettings:
        return EraseSettings(**(user_config or {}))

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        settings = self.parse_config(user_config)
        if settings.concurrency != self.settings.concurrency:
            self.gate = asyncio.Semaphore(settings.concurrency)
        self.settings = settings

    @gives_memory_back
    async def run(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        from deployments.erase import lama

        self.require_network()
        mask = np.asarray(params["mask"])
        lama.check(image, mask)
        boxes = await asyncio.to_thread(lama.crop_boxes, mask)
        if not boxes:
            raise ValueError("the mask covers nothing")
        yield {"progress": 0.0}
        result = image.copy()
        for done, box in enumerate(boxes, start=1):
            async with self.gate:
                await asyncio.to_thread(
                    lama.erase_box, self.network, result, image, mask, box, self.settings.max_side
                )
            yield {"progress": done / len(boxes)}
        yield {"image": result}

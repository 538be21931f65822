"""The Eraser Serve deployment: remove what a mask covers with big-lama (deployments/lama.py),
one crop around each masked region, so the cost follows the mask, not the photo."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from ray import serve

from deployments.upscaler import ModelNotLoaded, replica_resources
from serve_app import logs
from serve_app.catalog import Catalog
from serve_app.settings import get_settings

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
class Eraser:
    def __init__(self) -> None:
        from deployments import device

        settings = get_settings()
        logs.configure(settings.log_format, settings.log_level)
        self.catalog = Catalog.load(
            settings.models_file, settings.user_models_file, settings.weights
        )
        self.device = device.configure(*replica_resources())
        self.missing: dict[str, str] = {}
        self.network_name: str | None = None
        self.network = self._load_network()
        self.settings = EraseSettings()
        self.gate = asyncio.Semaphore(self.settings.concurrency)

    def _load_network(self):
        from deployments import lama

        for spec in self.catalog.for_operation(OPERATION):
            path = spec.weights_path(self.catalog.weights_dir)
            if path.is_file():
                self.network_name = spec.name
                return lama.load(path, self.device)
            self.missing[spec.name] = f"weights not found: {path}"
        return None

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        settings = EraseSettings(**(user_config or {}))
        if settings.concurrency != self.settings.concurrency:
            self.gate = asyncio.Semaphore(settings.concurrency)
        self.settings = settings

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "loaded": [self.network_name] if self.network is not None else [],
            "missing": self.missing,
            "device": self.device.kind,
        }

    async def run(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        from deployments import lama

        if self.network is None:
            raise ModelNotLoaded("no LaMa weights are loaded")
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

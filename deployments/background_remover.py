"""The BackgroundRemover Serve deployment: U²-Net at 320x320, batched across jobs (every
input has the same shape), then refinement and composition at full resolution per job.

Params: `bg_color` ("#rrggbb" or None) and `only_mask` (bool). Final event: {"image": RGB,
"alpha": matte} for a cut-out; {"image": RGB} alone for a flat background or the mask.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from ray import serve

from deployments import matting
from deployments.upscaler import ModelNotLoaded, replica_resources
from serve_app import logs
from serve_app.catalog import Catalog
from serve_app.metrics import BatchRecorder
from serve_app.settings import get_settings

log = logging.getLogger("photoserve.background_remover")
OPERATION = "remove-background"


@dataclass(frozen=True)
class MattingBatching:
    max_batch_size: int = 8  # 320x320 inputs per U²-Net batch
    batch_wait_timeout_s: float = 0.0
    max_concurrent_batches: int = 1


@serve.deployment(name="BackgroundRemover", max_ongoing_requests=16)
class BackgroundRemover:
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
        self.batching = MattingBatching()
        self.batch_sizes = BatchRecorder("BackgroundRemover")
        self.batcher = self._make_batcher(self.batching)

    def _load_network(self):
        from deployments import u2net

        for spec in self.catalog.for_operation(OPERATION):
            path = spec.weights_path(self.catalog.weights_dir)
            if path.is_file():
                self.network_name = spec.name
                log.info("background removal: %s on %s", spec.name, self.device)
                network = u2net.load(path, self.device)
                # the first call pays for kernel selection and allocator growth: not a customer
                blank = np.zeros((1, 3, matting.SIZE, matting.SIZE), np.float32)
                matting.predict(network, blank, self.device)
                return network
            self.missing[spec.name] = f"weights not found: {path}"
        return None

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
        return {
            "pid": os.getpid(),
            "loaded": [self.network_name] if self.network is not None else [],
            "missing": self.missing,
            "device": self.device.kind,
            "config": {"batching": asdict(self.batching)},
        }

    async def run(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        if self.network is None:
            raise ModelNotLoaded("background removal weights are not loaded")
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

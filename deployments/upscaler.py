"""The Upscaler Serve deployment: Real-ESRGAN networks, tiled, batched across jobs.

Torch is imported inside the replica only, so the application graph can be built (and the
gateway imported) on a machine without it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import ray
from ray import serve

from deployments.upscale import TileSettings, upscale
from serve_app.catalog import Catalog
from serve_app.settings import get_settings

log = logging.getLogger("photoserve.upscaler")
OPERATION = "upscale"


class ModelNotLoaded(RuntimeError):
    """Asked for a model this replica has no weights for."""


def replica_resources() -> tuple[float, float]:
    try:
        assigned = ray.get_runtime_context().get_assigned_resources()
    except Exception:  # not inside Ray (direct use in tests)
        return 1.0, 0.0
    return float(assigned.get("CPU", 1.0)), float(assigned.get("GPU", 0.0))


@serve.deployment(name="Upscaler", max_ongoing_requests=32)
class Upscaler:
    def __init__(self) -> None:
        from deployments import device
        from deployments.sr_network import SRNetwork, WeightsMissing

        settings = get_settings()
        catalog = Catalog.load(settings.models_file, settings.user_models_file, settings.weights)
        self.device = device.configure(*replica_resources())
        self.networks: dict[str, Any] = {}
        self.missing: dict[str, str] = {}
        for spec in catalog.for_operation(OPERATION):
            try:
                self.networks[spec.name] = SRNetwork.load(
                    spec.weights_path(catalog.weights_dir), self.device
                )
            except WeightsMissing as exc:
                self.missing[spec.name] = f"weights not found: {exc}"
        self.tiles = TileSettings()
        for network in self.networks.values():
            # first call pays for kernel selection and allocator growth: not a customer's job
            network.run([np.zeros((16, 16, 3), np.uint8)])
        log.info("upscaler ready: %s on %s", sorted(self.networks), self.device)

    def reconfigure(self, config: dict[str, Any]) -> None:
        tiles = config.get("tiles", {})
        self.tiles = TileSettings(**{**self.tiles.__dict__, **tiles})
        batching = config.get("batching", {})
        if "max_batch_size" in batching:
            self.infer_tiles.set_max_batch_size(int(batching["max_batch_size"]))
        if "batch_wait_timeout_s" in batching:
            self.infer_tiles.set_batch_wait_timeout_s(float(batching["batch_wait_timeout_s"]))

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "loaded": sorted(self.networks),
            "missing": self.missing,
            "device": self.device.kind,
            "tiles": self.tiles.__dict__,
        }

    async def upscale(
        self, image: np.ndarray, model: str, out_width: int, out_height: int
    ) -> AsyncIterator[dict]:
        network = self.networks.get(model)
        if network is None:
            raise ModelNotLoaded(f"model {model} is not loaded on this replica")

        async def infer(tile: np.ndarray) -> np.ndarray:
            return await self.infer_tiles((model, tile))

        async for event in upscale(
            image, network.scale, (out_width, out_height), infer, self.tiles
        ):
            yield event

    @serve.batch(max_batch_size=1, batch_wait_timeout_s=0.0)
    async def infer_tiles(self, requests: list[tuple[str, np.ndarray]]) -> list[np.ndarray]:
        results: list[np.ndarray] = [None] * len(requests)  # type: ignore[list-item]
        by_model: dict[str, list[int]] = {}
        for index, (model, _) in enumerate(requests):
            by_model.setdefault(model, []).append(index)
        for model, indices in by_model.items():
            tiles = [requests[i][1] for i in indices]
            outputs = await asyncio.to_thread(self.networks[model].run, tiles)
            for i, out in zip(indices, outputs, strict=True):
                results[i] = out
        return results

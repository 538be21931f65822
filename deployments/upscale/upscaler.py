"""The Upscaler Serve deployment: Real-ESRGAN networks, tiled, tiles of concurrent jobs
sharing batches (deployments/common/batching.py).

Everything tunable lives in `user_config` (configs/serve*.yaml) and changes without a
redeploy: the runtime backend, tile size/pad/window, and the batching limits (pixels per
batch, wait, concurrent batches). Torch and ncnn are imported inside the replica only, so the
application graph can be built on a machine without them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from ray import serve

from deployments.common import adjust, memory, replica
from deployments.common.batching import Batcher, BatchSettings
from deployments.common.replica import ModelNotLoaded
from deployments.upscale.pipeline import TileSettings, upscale

log = logging.getLogger("photoserve.upscaler")
OPERATION = "upscale"


# pixels per batch (tile_pixels counts them): two padded 256 px tiles, side by side where
# the model's parallel_tiles allows (ncnn_network.py)
PIXEL_BATCHING = BatchSettings(max_batch_size=2 * 276 * 276)


@dataclass(frozen=True)
class UpscalerConfig:
    backend: str = "auto"
    tiles: TileSettings = field(default_factory=TileSettings)
    batching: BatchSettings = PIXEL_BATCHING
    # model -> its own tile size: an RRDBNet tile's ncnn blobs take ~50 KB per padded pixel
    # (a 276 px tile ~3.5 GB), the compact network's ~3 KB
    model_tiles: dict[str, int] = field(default_factory=dict)

    def tiles_for(self, model: str) -> TileSettings:
        tile = self.model_tiles.get(model)
        return replace(self.tiles, tile=tile) if tile else self.tiles

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> UpscalerConfig:
        tiles = TileSettings(**raw.get("tiles", {}))
        batching = BatchSettings.parse(raw, PIXEL_BATCHING)
        model_tiles = {str(k): int(v) for k, v in (raw.get("model_tiles") or {}).items()}
        if any(tile <= 0 for tile in model_tiles.values()):
            raise ValueError("model_tiles must be positive")
        if tiles.tile <= 0:
            raise ValueError("tiles.tile must be positive in a Serve deployment")
        largest = (max([tiles.tile, *model_tiles.values()]) + 2 * tiles.tile_pad) ** 2
        if batching.max_batch_size < largest:
            raise ValueError(
                f"batching.max_batch_size ({batching.max_batch_size} px) must hold one padded "
                f"tile ({largest} px)"
            )
        unknown = set(raw) - {"backend", "tiles", "batching", "model_tiles"}
        if unknown:
            raise ValueError(f"unknown Upscaler user_config keys: {sorted(unknown)}")
        return cls(raw.get("backend", "auto"), tiles, batching, model_tiles)


@dataclass
class TileRequest:
    model: str
    tile: np.ndarray
    job: int = 0  # which upscale call the tile belongs to


@dataclass
class BatchStats:
    batches: int = 0
    tiles: int = 0
    max_tiles: int = 0
    shared: int = 0  # batches holding tiles of more than one job

    def record(self, requests: list[TileRequest]) -> None:
        self.batches += 1
        self.tiles += len(requests)
        self.max_tiles = max(self.max_tiles, len(requests))
        self.shared += len({r.job for r in requests}) > 1


def tile_pixels(requests: list[TileRequest]) -> int:
    return sum(r.tile.shape[0] * r.tile.shape[1] for r in requests)


@serve.deployment(name="Upscaler", max_ongoing_requests=32)
class Upscaler(memory.Measured):
    """Upscale (`run`, `upscale`) and enhance (`enhance`): the Real-ESRGAN models, loaded once."""

    def __init__(self) -> None:
        self.catalog, self.device = replica.setup()
        self.config = UpscalerConfig()
        self.networks: dict[str, Any] = {}
        self.backends: dict[str, str] = {}
        self.missing: dict[str, str] = {}
        self._load_networks(self.config.backend)
        self.batcher = Batcher("Upscaler", self._infer, self.config.batching, tile_pixels)
        self.batch_stats = BatchStats()
        self.calls = 0
        self.jobs = memory.Jobs(self._release)
        self.jobs.give_back()  # what loading and the warm-up allocated: the baseline

    @staticmethod
    def parse_config(user_config: dict[str, Any]) -> UpscalerConfig:
        return UpscalerConfig.parse(user_config or {})

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        config = self.parse_config(user_config)
        if config.backend != self.config.backend:
            self._load_networks(config.backend)
        self.batcher.configure(config.batching)
        self.config = config
        log.info("upscaler config: %s", asdict(config))

    def _load_networks(self, backend: str) -> None:
        from deployments.upscale import networks

        loaded, backends, missing = {}, {}, {}
        for spec in self.catalog.for_operation(OPERATION):
            try:
                loaded[spec.name], backends[spec.name] = networks.load(
                    spec, self.catalog.weights_dir, self.device, backend
                )
            except networks.WeightsMissing as exc:
                missing[spec.name] = f"weights not found: {exc}"
        for network in loaded.values():
            # the first call pays for kernel selection and allocator growth: not a customer
            network.run([np.zeros((16, 16, 3), np.uint8)])
        self.networks, self.backends, self.missing = loaded, backends, missing
        log.info("upscaler models: %s on %s", backends, self.device)

    async def _infer(self, requests: list[TileRequest]) -> list[np.ndarray]:
        self.batch_stats.record(requests)
        results: list[np.ndarray] = [None] * len(requests)  # type: ignore[list-item]
        by_model: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            by_model.setdefault(request.model, []).append(index)
        for model, indices in by_model.items():
            tiles = [requests[i].tile for i in indices]
            outputs = await asyncio.to_thread(self.networks[model].run, tiles)
            for i, out in zip(indices, outputs, strict=True):
                results[i] = out
        return results

    def _release(self) -> None:
        for network in self.networks.values():
            network.release()

    async def upscale(
        self,
        image: np.ndarray,
        model: str,
        out_width: int,
        out_height: int,
        adjustments: dict | None = None,
    ) -> AsyncIterator[dict]:
        network = self.networks.get(model)
        if network is None:
            raise ModelNotLoaded(f"model {model} is not loaded on this replica")

        self.calls += 1
        call = self.calls

        async def infer(tile: np.ndarray) -> np.ndarray:
            return await self.batcher(TileRequest(model, tile, call))

        size = (out_width, out_height)
        looks = adjust.Adjustments(**(adjustments or {}))
        tiles = self.config.tiles_for(model)
        async with self.jobs.job():
            async for event in upscale(image, network.scale, size, infer, tiles):
                if "image" in event and not looks.is_identity():
                    event = {"image": await asyncio.to_thread(adjust.apply, event["image"], looks)}
                yield event

    async def run(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        """An upscale job: `model`, `out_width` x `out_height`, PND's `adjust` looks."""
        size = params["out_width"], params["out_height"]
        looks = params.get("adjust") or None
        async for event in self.upscale(image, params["model"], *size, looks):
            yield event

    async def enhance(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        """Measured colour/tone corrections, then (`denoise`) the compact Real-ESRGAN at
        scale 1: x4 and back down, which removes noise and JPEG blocks and sharpens."""
        from deployments.upscale import corrections

        looks = params["strength"], params["wb"], params["color"]
        corrected = await asyncio.to_thread(corrections.enhance, image, *looks)
        if not params.get("denoise"):
            yield {"image": corrected}
            return
        size = image.shape[1], image.shape[0]
        async for event in self.upscale(corrected, params["model"], *size):
            yield event

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "loaded": sorted(self.networks),
            "backends": self.backends,
            "missing": self.missing,
            "device": self.device.kind,
            "threads": self.device.threads,
            "config": asdict(self.config),
            "batches": asdict(self.batch_stats),
            **memory.figures(),
        }

"""Backends that run the real networks in the test process (no Serve), for dispatcher tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from deployments.device import plan
from deployments.sr_network import SRNetwork
from deployments.upscale import TileSettings, upscale


class LocalUpscaleBackend:
    def __init__(self, weights_dir: Path, tile: int = 64):
        file = weights_dir / "realesr-animevideov3.safetensors"
        self.network = SRNetwork.load(file, plan(2, 0, cuda_available=False))
        self.tiles = TileSettings(tile=tile, tile_pad=8)
        self.calls = 0

    async def infer(self, tile):
        return (await asyncio.to_thread(self.network.run, [tile]))[0]

    async def stream(self, image, params):
        self.calls += 1
        size = (params["out_width"], params["out_height"])
        async for event in upscale(image, self.network.scale, size, self.infer, self.tiles):
            yield event


class FailingBackend:
    def __init__(self, exc: Exception):
        self.exc = exc

    async def stream(self, image, params):
        yield {"progress": 0.5}
        raise self.exc

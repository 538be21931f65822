"""Backends that run the real networks in the test process (no Serve), for dispatcher tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from deployments.common.device import plan
from deployments.upscale.pipeline import TileSettings, upscale
from deployments.upscale.sr_network import SRNetwork


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


class LocalFaceBackend:
    """The face pipeline in-process: dlib detection, GFPGAN (random-weight fixture: plumbing
    only), background from the real fast upscaler."""

    def __init__(self, gfpgan_path: Path, upscaler: LocalUpscaleBackend):
        from deployments.faces.facelib import DlibDetector
        from deployments.faces.gfpgan_network import GFPGANNetwork

        self.detector = DlibDetector()
        self.network = GFPGANNetwork.load(gfpgan_path, plan(2, 0, cuda_available=False))
        self.upscaler = upscaler

    async def restore_face(self, crop):
        return (await asyncio.to_thread(self.network.run, [crop]))[0]

    async def stream(self, image, params):
        from deployments.common import adjust
        from deployments.faces import restoration as face_restore

        found = await asyncio.to_thread(self.detector.detect, image, params.get("max_faces", 10))
        background = image
        if (params["out_width"], params["out_height"]) != (image.shape[1], image.shape[0]):
            events = [e async for e in self.upscaler.stream(image, params)]
            background = events[-1]["image"]
        done = await face_restore.restore(
            image, found, background, params["fidelity"], self.restore_face
        )
        output = adjust.apply(done.image, adjust.Adjustments(**params.get("adjust", {})))
        yield {"image": output, "faces": done.crops}


class LocalEnhanceBackend:
    """Enhance in-process: the measured corrections, then the real fast upscaler at scale 1."""

    def __init__(self, upscaler: LocalUpscaleBackend):
        self.upscaler = upscaler

    async def stream(self, image, params):
        from deployments.upscale import corrections as enhance

        looks = params["strength"], params["wb"], params["color"]
        corrected = await asyncio.to_thread(enhance.enhance, image, *looks)
        if not params.get("denoise"):
            yield {"image": corrected}
            return
        async for event in self.upscaler.stream(corrected, params):
            yield event


class LocalMattingBackend:
    """remove-background in-process: U²-Net (random-weight fixture: plumbing only) and the
    real full-resolution refinement."""

    def __init__(self, weights: Path):
        from deployments.background import network

        self.network = network.load(weights, plan(2, 0, cuda_available=False))

    async def stream(self, image, params):
        from deployments.background import matting

        bg, only_mask = params.get("bg_color"), params.get("only_mask", False)
        result = await asyncio.to_thread(
            matting.remove_background, self.network, image, bg, only_mask
        )
        yield {"image": result["image"], "alpha": result.get("alpha")}


class LocalGenerateBackend:
    """The Generator's job runner in-process, on the tiny random FLUX.2 [klein] fixture."""

    def __init__(self, pipeline_dir: Path, native: int = 64):
        from deployments.generate import flux2
        from deployments.generate.generation import Runner

        config = plan(2, 0, cuda_available=False)
        pipes = flux2.load(pipeline_dir, config)
        flux2.place(pipes, config, offload=False)
        self.runner = Runner(pipes, native)

    def stream(self, image, params):
        return self.runner.stream(image, params)


class LocalFaceAnalyzer:
    """The FaceAnalyzer's region in-process, called as the styling backend calls its handle
    (`analyzer.region.remote(image, params)`): dlib and the random-weight BiSeNet fixture."""

    def __init__(self, parser_path: Path):
        from types import SimpleNamespace

        from deployments.faces import facelib, parsing_network

        self.detector = facelib.DlibDetector()
        self.network = parsing_network.load(parser_path, plan(2, 0, cuda_available=False))
        self.region = SimpleNamespace(remote=self._region)

    async def _region(self, image, params):
        from deployments.faces import hair

        return await asyncio.to_thread(
            hair.region, self.detector, self.network, image, params["task"]
        )

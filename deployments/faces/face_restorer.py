"""The FaceRestorer Serve deployment: dlib detection + 5-point alignment, GFPGAN batched
across faces and jobs, background from the Upscaler deployment through its handle (one copy
of the Real-ESRGAN models, not two), paste-back, optional colour looks."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.common import adjust, memory, replica
from deployments.common.batching import Batcher, BatchSettings
from deployments.common.memory import gives_memory_back
from deployments.faces import restoration

log = logging.getLogger("photoserve.face_restorer")
OPERATION = "restore-face"
DETECTOR = "dlib-face-landmarks-68"
MAX_FACES = 10


FACE_BATCHING = BatchSettings(max_batch_size=4)  # faces per GFPGAN batch


@serve.deployment(name="FaceRestorer", max_ongoing_requests=16)
class FaceRestorer(memory.Measured):
    uses = ("Upscaler",)  # its handle comes first in __init__: the background

    def __init__(self, upscaler: DeploymentHandle) -> None:
        self.catalog, self.device = replica.setup()
        self.upscaler = upscaler.options(stream=True)
        self.missing: dict[str, str] = {}
        self.network_name: str | None = None
        self.network = self._load_network()
        self.detector = self._load_detector()
        self.batcher = Batcher("FaceRestorer", self._restore_batch, FACE_BATCHING)
        self.jobs = memory.Jobs()

    def _load_network(self):
        from deployments.faces.gfpgan_network import GFPGANNetwork

        for spec in self.catalog.for_operation(OPERATION):
            path = spec.weights_path(self.catalog.weights_dir)
            if path.is_file():
                self.network_name = spec.name
                return GFPGANNetwork.load(path, self.device)
            self.missing[spec.name] = f"weights not found: {path}"
        return None

    def _load_detector(self):
        from deployments.faces.facelib import DlibDetector

        spec = self.catalog.specs.get(DETECTOR)
        path = spec.weights_path(self.catalog.weights_dir) if spec else None
        try:
            return DlibDetector(path if path and path.is_file() else None)
        except (FileNotFoundError, ImportError) as exc:
            self.missing[DETECTOR] = str(exc)
            return None

    @staticmethod
    def parse_config(user_config: dict[str, Any]) -> BatchSettings:
        return BatchSettings.parse(user_config, FACE_BATCHING)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self.batcher.configure(self.parse_config(user_config))

    async def _restore_batch(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        return await asyncio.to_thread(self.network.run, crops)

    def status(self) -> dict[str, Any]:
        loaded = [self.network_name] if self.network is not None else []
        if self.detector is not None:
            loaded.append(DETECTOR)
        return {
            "pid": os.getpid(),
            "loaded": loaded,
            "missing": self.missing,
            "device": self.device.kind,
            "threads": self.device.threads,
            **memory.figures(),
        }

    @gives_memory_back
    async def restore(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        if self.network is None or self.detector is None:
            raise replica.ModelNotLoaded("face restoration weights are not loaded")
        max_faces = min(MAX_FACES, int(params.get("max_faces", MAX_FACES)))
        found = await asyncio.to_thread(self.detector.detect, image, max_faces)
        yield {"progress": 0.05}
        background = image
        size = (params["out_width"], params["out_height"])
        if size != (image.shape[1], image.shape[0]):
            call = self.upscaler.upscale.remote(image, params["background_model"], *size)
            async for event in call:
                if "image" in event:
                    background = event["image"]
                else:
                    yield {"progress": 0.05 + 0.6 * event["progress"]}
        restored = await restoration.restore(
            image, found, background, float(params.get("fidelity", 1.0)), self.batcher
        )
        output = restored.image
        looks = adjust.Adjustments(**params.get("adjust", {}))
        if not looks.is_identity():
            output = await asyncio.to_thread(adjust.apply, output, looks)
        yield {"image": output, "faces": restored.crops}

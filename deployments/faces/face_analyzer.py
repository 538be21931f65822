"""The FaceAnalyzer Serve deployment: the face checks and the region a face-styling job may
paint. dlib finds the faces (its 68 points give the pose and width: pose.py), the one face is
aligned and parsed by the BiSeNet (parsing_network.py), and the task's region comes back in
the photo's pixels (hair.py). The painting itself is the Generator's masked edit.

region(image, params) -> HxW bool; params: task (a key of hair.REGIONS). A photo the task
cannot take raises FaceCheckFailed with Perfect Corp's code (error_no_face, ...).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve

from deployments.common.replica import ModelReplica
from deployments.faces import facelib, hair, parsing_network
from serve_app.core.catalog import ModelSpec

OPERATION = "face-parsing"


@serve.deployment(name="FaceAnalyzer", max_ongoing_requests=16)
class FaceAnalyzer(ModelReplica):
    operation = OPERATION

    def __init__(self) -> None:
        super().__init__()
        self.detector = facelib.DlibDetector()

    def load(self, spec: ModelSpec, path: Path) -> Any:
        return parsing_network.load(path, self.device)

    async def region(self, image: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        network = self.require_network()
        return await asyncio.to_thread(hair.region, self.detector, network, image, params["task"])

    async def run(self, image: np.ndarray, params: dict[str, Any]):
        """Its own job: the region as a mask (white = where the task would paint)."""
        yield {"image": (await self.region(image, params)).astype(np.uint8) * 255}

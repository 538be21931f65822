"""How the dispatcher reaches a model: a backend streams events for one job's image.

Events are dicts: {"progress": 0..1} as work advances, then {"image": HxWx3 uint8}.
A failure the customer should see is raised as JobFailure with a job error code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import numpy as np


class JobFailure(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Backend(Protocol):
    def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]: ...


def _cause_name(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    return type(cause).__name__


_MISSING_MODEL = {"ModelNotLoaded"}  # deployments/replica.py


async def _relay(response) -> AsyncIterator[dict]:
    try:
        async for event in response:
            yield event
    except Exception as exc:
        if _cause_name(exc) in _MISSING_MODEL:
            raise JobFailure("model_unavailable", "The model is not loaded.") from exc
        raise


class UpscaleHandleBackend:
    """Upscale through the Upscaler deployment's handle (streaming progress back)."""

    def __init__(self, handle):
        self.handle = handle.options(stream=True)

    def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        size = (params["out_width"], params["out_height"])
        adjust = params.get("adjust") or None
        return _relay(self.handle.upscale.remote(image, params["model"], *size, adjust))


class FaceHandleBackend:
    """Face restoration through the FaceRestorer deployment's handle."""

    def __init__(self, handle):
        self.handle = handle.options(stream=True)

    def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        return _relay(self.handle.restore.remote(image, params))


class ModelHandleBackend:
    """A model deployment whose `run(image, params)` streams progress then the result."""

    def __init__(self, handle):
        self.handle = handle.options(stream=True)

    def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        return _relay(self.handle.run.remote(image, params))


class MaskResultHandleBackend(ModelHandleBackend):
    """Results that replace the input's transparency: a mask comes back as one channel
    (segment, remove-background's only_mask), a cut-out brings its own alpha, a subject over
    a flat colour has none."""

    def __init__(self, handle, always_mask: bool):
        super().__init__(handle)
        self.always_mask = always_mask

    async def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        gray = self.always_mask or bool(params.get("only_mask"))
        async for event in super().stream(image, params):
            if "image" in event:
                result = event["image"]
                if gray and result.ndim == 3:
                    result = result[..., 0]
                event = {"image": result, "alpha": event.get("alpha")}
            yield event


class MaskedHandleBackend(ModelHandleBackend):
    """Erase / inpaint: the mask was uploaded, or the Segmenter finds it from clicks first."""

    def __init__(self, handle, segmenter):
        super().__init__(handle)
        self.segmenter = segmenter

    async def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        start = 0.0
        if params.get("mask") is None:
            clicks = {"points": params.get("points") or [], "box": params.get("box")}
            try:
                mask = await self.segmenter.mask.remote(image, clicks)
            except Exception as exc:
                if _cause_name(exc) in _MISSING_MODEL:
                    raise JobFailure("model_unavailable", "The segmenter is not loaded.") from exc
                raise
            if not mask.any():
                raise JobFailure("empty_mask", "The clicks selected nothing to change.")
            params = {**params, "mask": mask}
            start = 0.1
            yield {"progress": start}
        async for event in super().stream(image, params):
            if "progress" in event:
                event = {"progress": start + (1 - start) * event["progress"]}
            yield event


class EnhanceHandleBackend:
    """Classical corrections (and Real-ESRGAN at scale 1) in the Upscaler deployment."""

    def __init__(self, upscaler):
        self.handle = upscaler.options(stream=True)

    def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        return _relay(self.handle.enhance.remote(image, params))


# Failures of the machinery rather than of the job: the replica died, was being replaced, or
# could not be reached. Worth another try once Serve has a replica again.
_RETRYABLE = {
    "RayActorError",
    "ActorDiedError",
    "ActorUnavailableError",
    "ActorUnschedulableError",
    "WorkerCrashedError",
    "NodeDiedError",
    "ObjectLostError",
    "OwnerDiedError",
    "BackPressureError",
    "DeploymentUnavailableError",
    "RequestCancelledError",
    "ReplicaUnavailableError",
}


def is_retryable(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    cause = getattr(exc, "cause", None)
    if cause is not None:
        names |= {cls.__name__ for cls in type(cause).__mro__}
    return bool(names & _RETRYABLE)

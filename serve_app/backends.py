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


_MISSING_MODEL = {"ModelNotLoaded", "FaceModelMissing"}


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

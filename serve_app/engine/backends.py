"""How the dispatcher reaches a model: a backend streams events for one job's image.

Events are dicts: {"progress": 0..1} as work advances, then the result {"image": HxWx3 or
HxW uint8, "alpha"?: HxW, "faces"?: [crops], "seed"?: int}. A failure the customer should see
is raised as JobFailure with a job error code.

Every model deployment streams `method(image, params)`; `Call` relays one, `MaskedCall` first
asks the Segmenter for the mask when the job came with clicks instead of a mask file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import numpy as np


class JobFailure(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Backend(Protocol):
    def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]: ...


class ResultKind(StrEnum):
    """What an operation's result is, and so where its transparency comes from."""

    IMAGE = "image"  # RGB; the input's transparency is kept (resized with it)
    RGBA = "rgba"  # the model's own transparency replaces the input's (None: opaque)
    MASK = "mask"  # one channel, white = selected
    IMAGES = "images"  # an image plus extra images (restored faces), each a result

    @property
    def keeps_input_alpha(self) -> bool:
        return self in (ResultKind.IMAGE, ResultKind.IMAGES)


@dataclass(frozen=True)
class Lane:
    """How the engine runs one operation's jobs."""

    backend: Backend
    deadline_s: float = 900.0
    result: ResultKind = ResultKind.IMAGE


def _cause_name(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    return type(cause).__name__


_MISSING_MODEL = {"ModelNotLoaded"}  # deployments/common/replica.py


async def _relay(response) -> AsyncIterator[dict]:
    try:
        async for event in response:
            yield event
    except Exception as exc:
        if _cause_name(exc) in _MISSING_MODEL:
            raise JobFailure("model_unavailable", "The model is not loaded.") from exc
        raise


class Call:
    """A model deployment's streaming `method(image, params)`, through its handle."""

    def __init__(self, handle, method: str = "run"):
        self.handle = handle.options(stream=True)
        self.method = method

    def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        return _relay(getattr(self.handle, self.method).remote(image, params))


class MaskedCall(Call):
    """Erase / inpaint: the mask was uploaded, or the Segmenter finds it from clicks first."""

    def __init__(self, handle, segmenter, method: str = "run"):
        super().__init__(handle, method)
        self.segmenter = segmenter

    async def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        start = 0.0
        if params.get("mask") is None:
            params = {**params, "mask": await self._mask(image, params)}
            start = 0.1
            yield {"progress": start}
        async for event in super().stream(image, params):
            if "progress" in event:
                event = {"progress": start + (1 - start) * event["progress"]}
            yield event

    async def _mask(self, image: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        clicks = {
            "points": params.get("points") or [],
            "box": params.get("box"),
            "cache_scope": params.get("cache_scope"),
            "cache_key": params.get("cache_key"),
        }
        try:
            mask = await self.segmenter.mask.remote(image, clicks)
        except Exception as exc:
            if _cause_name(exc) in _MISSING_MODEL:
                raise JobFailure("model_unavailable", "The segmenter is not loaded.") from exc
            raise
        if not mask.any():
            raise JobFailure("empty_mask", "The clicks selected nothing to change.")
        return mask


class Routed:
    """One operation on several deployments: the job's `runner` param names the backend
    (none: the one under "")."""

    def __init__(self, routes: dict[str, Backend]):
        self.routes = routes

    def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        return self.routes[params.get("runner") or ""].stream(image, params)


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

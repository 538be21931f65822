"""What the face-styling operations share (hair-style, wig, hair-extension, hair-bang,
hair-volume with a style from the task's catalog, `style_group_id` and `style_id`:
configs/styles/; aging; makeup-transfer): a photo of one person whose long side is at most
1024 px, and the backend: the FaceAnalyzer finds the region the task may paint (faces
checked, the face parsed), the Generator repaints it (a reference photo, where the task takes
one, guiding it), and the result is blended in with a feathered edge inside the region, so
every pixel outside it is the input's, exactly.

A photo the analyzer refuses (no face, several people, a face turned too far or too small)
fails its job with Perfect Corp's code before anything is painted; its credits are released,
never charged (the gateway does not run face detection).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from serve_app.core.errors import InvalidParameter, ModelUnavailable, PixelTooLarge
from serve_app.engine.backends import Backend, Call, JobFailure
from serve_app.operations import _generating
from serve_app.operations._editing import edit_plan
from serve_app.operations._operation import Given, Operation, Plan
from serve_app.operations._params import Output, integer

ANALYZER = "FaceAnalyzer"
GROUP = "face-parsing"  # models.yaml group of the face parser
MAX_SIDE = 1024  # Perfect's limit for these tasks
ANALYSIS_SHARE = 0.1
FEATHER = 0.01  # of the image's diagonal: the blend's soft edge, inside the region
StyleId = integer(1, 2**53 - 1, "from GET /v1/styles/{task}")


class StyledParams(Output):
    style_group_id: StyleId
    style_id: StyleId
    seed: integer(0, 2**31 - 1, "the same seed, photo and style give the same result") | None = None


def catalog_fields(params: StyledParams) -> dict[str, Any]:
    return {"style_group_id": params.style_group_id, "style_id": params.style_id}


def resolver(task: str):
    """The style's prompt and strength, from the catalog, for the job (no client sets them)."""

    async def resolve(rt, account_id: str, params: dict) -> tuple[dict, dict]:
        group, style_id = params.get("style_group_id"), params.get("style_id")
        try:
            style = rt.styles.find(task, int(group), int(style_id))
        except (TypeError, ValueError):
            style = None
        if style is None:
            raise InvalidParameter(
                f"No style {style_id!r} in group {group!r} of {task}: see GET /v1/styles/{task}."
            )
        return params, {"prompt": style.prompt_for(), "strength": style.strength}

    return resolve


def _available(given: Given, group: str) -> None:
    if not any(given.catalog.available(s) for s in given.catalog.for_operation(group)):
        raise ModelUnavailable(
            "The face parser has no weights on this server: "
            + given.catalog.how_to_get("parsing-bisenet")
        )


def planner(task: str, own: Callable[[Any], dict] = lambda params: {}):
    """`own`: the fields a task sets itself (aging's prompt); catalog styles come from the
    resolver."""

    def plan(params: Any, given: Given) -> Plan:
        if given.image.longest > MAX_SIDE:
            raise PixelTooLarge(f"The long side is {given.image.longest} px; at most {MAX_SIDE}.")
        _available(given, GROUP)
        spec = _generating.model_spec(given.catalog, None)
        fields = {
            "task": task,
            **_generating.sampling(spec, seed=params.seed),
            "runner": _generating.GENERATOR,
            **own(params),
        }
        if given.reference is not None:
            _generating.check_photo(given.reference, "reference_image")
        return edit_plan(params, given, fields)

    return plan


def _failure(exc: BaseException) -> JobFailure | None:
    cause = getattr(exc, "cause", None) or exc
    code = getattr(cause, "code", None)
    return JobFailure(code, getattr(cause, "detail", str(cause))) if code else None


class Styled:
    """The analyzer's region, then the generator's masked edit inside it, composed."""

    def __init__(self, analyzer, generator: Backend):
        self.analyzer = analyzer
        self.generator = generator

    async def _region(self, image: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        try:
            region = await self.analyzer.region.remote(image, {"task": params["task"]})
        except Exception as exc:
            failure = _failure(exc)
            if failure is None:
                raise
            raise failure from exc
        if not region.any():
            raise JobFailure("error_face_parsing", "No hair was found to restyle.")
        return region

    async def stream(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        region = await self._region(image, params)
        yield {"progress": ANALYSIS_SHARE}
        masked = {**params, "mask": region.astype(np.uint8) * 255}
        async for event in self.generator.stream(image, masked):
            if "image" in event:
                yield {**event, "image": blend(image, event["image"], region)}
            else:
                yield {"progress": ANALYSIS_SHARE + (1 - ANALYSIS_SHARE) * event["progress"]}


def inner_depth(region: np.ndarray, limit: int) -> np.ndarray:
    """How many 4-neighbour erosions each pixel of `region` survives, up to `limit` (a
    feather measured inside the region, in numpy: the dispatcher has no OpenCV)."""
    depth = np.zeros(region.shape, np.float32)
    inside = region.copy()
    for _ in range(limit):
        depth += inside
        shrunk = inside.copy()
        shrunk[1:] &= inside[:-1]
        shrunk[:-1] &= inside[1:]
        shrunk[:, 1:] &= inside[:, :-1]
        shrunk[:, :-1] &= inside[:, 1:]
        inside = shrunk
        if not inside.any():
            break
    return depth


def blend(image: np.ndarray, painted: np.ndarray, region: np.ndarray) -> np.ndarray:
    """`painted` inside `region`, fading in over FEATHER of the image's diagonal from its
    edge; outside it, `image` exactly."""
    feather = max(1, round(FEATHER * float(np.hypot(*region.shape))))
    alpha = (inner_depth(region, feather) / feather)[..., None]
    mixed = image * (1.0 - alpha) + painted * alpha
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def styled(handle: Any, method: str, handles: dict[str, Any]) -> Styled:
    return Styled(handle, Call(handles[_generating.GENERATOR]))


def hair_operation(name: str, what: str) -> Operation:
    """One of the hair tasks: its catalog's style painted inside its region (hair.REGIONS)."""
    return Operation(
        name=name,
        summary=f"{what} from a style (face parsing + FLUX.2 [klein])",
        description=(
            "One person, long side at most 1024 px; `style_group_id` and `style_id` from "
            f"GET /v1/styles/{name}. Pixels outside the painted region are the input's."
        ),
        params=StyledParams,
        plan=planner(name, catalog_fields),
        deployment="deployments.faces.face_analyzer:FaceAnalyzer",
        backend=styled,
        models=(GROUP, _generating.GROUP),
        fetch="parsing-bisenet",
        resolve=resolver(name),
    )

"""What a face-restoration request asks for: fidelity, how many faces, the background's output
size (scale 1 keeps the input size), format and price, checked before any credit moves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from serve_app.core import parsing
from serve_app.core.catalog import Catalog
from serve_app.core.errors import ModelUnavailable
from serve_app.core.plans import Plans
from serve_app.engine.images import ImageInfo
from serve_app.operations import upscale

OPERATION = "restore-face"
DETECTOR = "dlib-face-landmarks-68"
SCALES = (1, 2, 4)
MAX_FACES = 10
DEFAULT_FIDELITY = 0.7  # PixelForge's default


@dataclass(frozen=True, kw_only=True)
class RestorePlan(upscale.UpscalePlan):
    """An upscale plan for the background (`model` is the face model here) plus the faces."""

    background_model: str
    fidelity: float
    max_faces: int
    adjust: dict[str, Any] = field(default_factory=dict)


def face_model(catalog: Catalog) -> str:
    restorers = [s for s in catalog.for_operation(OPERATION) if catalog.available(s)]
    detector = catalog.specs.get(DETECTOR)
    if not restorers:
        raise ModelUnavailable(
            "Face restoration has no weights on this server (GFPGAN v1.4: run "
            "`photoserve weights fetch gfpgan-v1.4` where there is internet)."
        )
    if detector is None or not catalog.available(detector):
        raise ModelUnavailable("The face detector has no weights on this server.")
    return restorers[0].name


def plan(
    raw: Mapping[str, Any],
    info: ImageInfo,
    catalog: Catalog,
    plans: Plans,
    max_output_edge: int,
    adjust: dict[str, Any] | None = None,
) -> RestorePlan:
    fidelity = parsing.number(raw.get("fidelity"), "fidelity", 0, 1, DEFAULT_FIDELITY)
    max_faces = parsing.integer(raw.get("max_faces"), "max_faces", 1, MAX_FACES, MAX_FACES)
    output_format = upscale.parse_format(raw.get("output_format"), default="png")
    quality = parsing.integer(raw.get("quality"), "quality", 1, 100, None)
    shape = upscale.geometry(raw, info, max_output_edge, SCALES, default_scale=1)
    model = face_model(catalog)
    background = upscale.model_name(catalog, raw.get("model")) if shape.scale != 1 else ""
    cost = plans.cost(OPERATION, *shape.tier)
    return RestorePlan(
        model=model,
        scale=shape.scale,
        size=shape.size,
        out_width=shape.out_width,
        out_height=shape.out_height,
        output_format=output_format,
        cost=cost,
        quality=quality,
        background_model=background,
        fidelity=fidelity,
        max_faces=max_faces,
        adjust=adjust or {},
    )

"""What a face-restoration request asks for: fidelity, how many faces, the background's output
size (scale 1 keeps the input size), format and price, checked before any credit moves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from serve_app import upscale
from serve_app.catalog import Catalog
from serve_app.errors import InvalidParameter, ModelUnavailable
from serve_app.images import ImageInfo
from serve_app.plans import Plans

OPERATION = "restore-face"
DETECTOR = "dlib-face-landmarks-68"
SCALES = (1, 2, 4)
MAX_FACES = 10
DEFAULT_FIDELITY = 0.7  # PixelForge's default


@dataclass(frozen=True)
class RestorePlan:
    model: str
    background_model: str
    fidelity: float
    max_faces: int
    scale: int | None
    size: str | None
    out_width: int
    out_height: int
    output_format: str
    cost: int
    quality: int | None = None
    adjust: dict[str, Any] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def size_label(self) -> str:
        return self.size or f"x{self.scale}"


def parse_fraction(value: Any, name: str, default: float) -> float:
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(f"{name} must be a number from 0 to 1; got {value!r}.") from exc
    if not 0 <= number <= 1:
        raise InvalidParameter(f"{name} must be from 0 to 1; got {value!r}.")
    return number


def parse_max_faces(value: Any) -> int:
    if value in (None, ""):
        return MAX_FACES
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_FACES:
        raise InvalidParameter(f"max_faces must be from 1 to {MAX_FACES}; got {value!r}.")
    return int(text)


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
    fidelity = parse_fraction(raw.get("fidelity"), "fidelity", DEFAULT_FIDELITY)
    max_faces = parse_max_faces(raw.get("max_faces"))
    output_format = upscale.parse_format(raw.get("output_format"), default="png")
    quality = upscale.parse_quality(raw.get("quality"))
    shape = upscale.geometry(raw, info, max_output_edge, SCALES, default_scale=1)
    model = face_model(catalog)
    background = upscale.model_name(catalog, raw.get("model")) if shape.scale != 1 else ""
    cost = plans.cost(OPERATION, *shape.tier)
    return RestorePlan(
        model,
        background,
        fidelity,
        max_faces,
        shape.scale,
        shape.size,
        shape.out_width,
        shape.out_height,
        output_format,
        cost,
        quality,
        adjust or {},
    )

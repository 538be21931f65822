"""What an upscale request asks for: model, output size, format and price, checked up front."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from serve_app.catalog import Catalog
from serve_app.errors import (
    InvalidParameter,
    InvalidSize,
    ModelUnavailable,
    PixelTooLarge,
)
from serve_app.images import OUTPUT_FORMATS, ImageInfo
from serve_app.plans import Plans

OPERATION = "upscale"
SIZES = {"HD": 1280, "FHD": 1920, "2K": 2560, "4K": 3840}
_BY_PIXELS = {str(px): name for name, px in SIZES.items()}
SCALES = (2, 4)
DEFAULT_MODEL = "fast"


@dataclass(frozen=True)
class UpscalePlan:
    model: str
    scale: int | None
    size: str | None
    out_width: int
    out_height: int
    output_format: str
    cost: int
    quality: int | None = None

    def params(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def size_label(self) -> str:
        return self.size or f"x{self.scale}"


def parse_size(value: Any) -> str:
    text = str(value).strip().upper()
    if text in SIZES:
        return text
    if text in _BY_PIXELS:
        return _BY_PIXELS[text]
    raise InvalidSize(
        f"size must be one of HD, FHD, 2K, 4K (or 1280, 1920, 2560, 3840); got {value!r}."
    )


def parse_scale(value: Any) -> int:
    text = str(value).strip().lower().removeprefix("x").removesuffix("x")
    if text.isdigit() and int(text) in SCALES:
        return int(text)
    raise InvalidParameter(f"scale must be 2 or 4; got {value!r}.")


def parse_format(value: Any, default: str) -> str:
    text = str(value or default).strip().lower()
    text = "jpg" if text == "jpeg" else text
    if text not in OUTPUT_FORMATS:
        raise InvalidParameter(f"output_format must be one of png, jpg, webp; got {value!r}.")
    return text


def parse_quality(value: Any) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise InvalidParameter(f"quality must be a whole number from 1 to 100; got {value!r}.")
    return int(text)


def _model(catalog: Catalog, value: Any) -> str:
    name = str(value or DEFAULT_MODEL).strip().lower()
    spec = catalog.find(OPERATION, name)
    if spec is None:
        choices = ", ".join(sorted(s.alias or s.name for s in catalog.for_operation(OPERATION)))
        raise InvalidParameter(f"model must be one of {choices}; got {value!r}.")
    if not catalog.available(spec):
        raise ModelUnavailable(f"The {name} upscaler has no weights on this server.")
    return spec.name


def _fit(info: ImageInfo, edge: int) -> tuple[int, int]:
    ratio = edge / info.longest
    return max(1, round(info.width * ratio)), max(1, round(info.height * ratio))


def plan(
    raw: Mapping[str, Any], info: ImageInfo, catalog: Catalog, plans: Plans, max_output_edge: int
) -> UpscalePlan:
    if raw.get("scale") not in (None, "") and raw.get("size") not in (None, ""):
        raise InvalidParameter("Give either scale or size, not both.")
    output_format = parse_format(raw.get("output_format"), default="png")
    quality = parse_quality(raw.get("quality"))
    model = _model(catalog, raw.get("model"))
    if raw.get("size") not in (None, ""):
        size = parse_size(raw["size"])
        if SIZES[size] <= info.longest:
            raise InvalidSize(
                f"size {size} ({SIZES[size]} px) is not larger than the image "
                f"({info.longest} px); choose a larger size or a scale."
            )
        width, height = _fit(info, SIZES[size])
        cost = plans.cost(OPERATION, "size", size)
        return UpscalePlan(model, None, size, width, height, output_format, cost, quality)
    scale = parse_scale(raw.get("scale") or 2)
    width, height = info.width * scale, info.height * scale
    if max(width, height) > max_output_edge:
        raise PixelTooLarge(
            f"x{scale} would make a {width}x{height} image; the output limit is "
            f"{max_output_edge} px on the longest edge."
        )
    cost = plans.cost(OPERATION, "scale", scale)
    return UpscalePlan(model, scale, None, width, height, output_format, cost, quality)

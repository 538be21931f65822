"""What an upscale request asks for: model, output size, format and price, checked up front."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from serve_app.core import parsing
from serve_app.core.catalog import Catalog
from serve_app.core.errors import InvalidParameter, InvalidSize, ModelUnavailable, PixelTooLarge
from serve_app.core.plans import Plans
from serve_app.engine.images import OUTPUT_FORMATS, ImageInfo

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


def parse_scale(value: Any, allowed: tuple[int, ...] = SCALES) -> int:
    text = str(value).strip().lower().removeprefix("x").removesuffix("x")
    if text.isdigit() and int(text) in allowed:
        return int(text)
    choices = " or ".join(str(a) for a in allowed)
    raise InvalidParameter(f"scale must be {choices}; got {value!r}.")


def parse_format(value: Any, default: str) -> str:
    text = str(value or default).strip().lower()
    text = "jpg" if text == "jpeg" else text
    if text not in OUTPUT_FORMATS:
        raise InvalidParameter(f"output_format must be one of png, jpg, webp; got {value!r}.")
    return text


def model_name(catalog: Catalog, value: Any, default: str = DEFAULT_MODEL) -> str:
    """An upscale model by alias or name, refused with 503 when its weights are missing."""
    name = str(value or default).strip().lower()
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


@dataclass(frozen=True)
class Geometry:
    scale: int | None
    size: str | None
    out_width: int
    out_height: int

    @property
    def tier(self) -> tuple[str, str | int]:
        """The price-table row: ("size", "2K") or ("scale", 4)."""
        return ("size", self.size) if self.size else ("scale", self.scale)

    @property
    def label(self) -> str:
        return self.size or f"x{self.scale}"


def geometry(
    raw: Mapping[str, Any],
    info: ImageInfo,
    max_output_edge: int,
    scales: tuple[int, ...] = SCALES,
    default_scale: int = 2,
) -> Geometry:
    """The output size a request asks for: a size tier (longest edge) or a scale factor."""
    if raw.get("scale") not in (None, "") and raw.get("size") not in (None, ""):
        raise InvalidParameter("Give either scale or size, not both.")
    if raw.get("size") not in (None, ""):
        size = parse_size(raw["size"])
        if SIZES[size] <= info.longest:
            raise InvalidSize(
                f"size {size} ({SIZES[size]} px) is not larger than the image "
                f"({info.longest} px); choose a larger size or a scale."
            )
        return Geometry(None, size, *_fit(info, SIZES[size]))
    scale = parse_scale(raw.get("scale") or default_scale, scales)
    width, height = info.width * scale, info.height * scale
    if max(width, height) > max_output_edge:
        raise PixelTooLarge(
            f"x{scale} would make a {width}x{height} image; the output limit is "
            f"{max_output_edge} px on the longest edge."
        )
    return Geometry(scale, None, width, height)


def plan(
    raw: Mapping[str, Any], info: ImageInfo, catalog: Catalog, plans: Plans, max_output_edge: int
) -> UpscalePlan:
    output_format = parse_format(raw.get("output_format"), default="png")
    quality = parsing.integer(raw.get("quality"), "quality", 1, 100, None)
    model = model_name(catalog, raw.get("model"))
    shape = geometry(raw, info, max_output_edge)
    cost = plans.cost(OPERATION, *shape.tier)
    return UpscalePlan(
        model,
        shape.scale,
        shape.size,
        shape.out_width,
        shape.out_height,
        output_format,
        cost,
        quality,
    )

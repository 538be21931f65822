"""POST /v1/upscale: Real-ESRGAN x2 / x4, or to a size tier (the longest edge).

The network runs at x4 (tiled), then the result is resized with Lanczos to the size asked for;
priced by that output (configs/plans.yaml). restore-face and enhance reuse this module's
output geometry and upscaler models.
"""

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from serve_app.core.catalog import Catalog, ModelSpec
from serve_app.core.errors import (
    InvalidParameter,
    InvalidSize,
    JobTooLarge,
    ModelUnavailable,
    PixelTooLarge,
)
from serve_app.core.scaling import stitch_factor
from serve_app.engine.images import ImageInfo
from serve_app.operations._operation import Given, Operation, Plan, Price, upscale_edge
from serve_app.operations._params import Output

NAME = "upscale"
SIZES = {"HD": 1280, "FHD": 1920, "2K": 2560, "4K": 3840}
_BY_PIXELS = {str(px): name for name, px in SIZES.items()}
SCALES = (2, 4)
DEFAULT_MODEL = "fast"


def parse_size(value: Any) -> str:
    text = str(value).strip().upper()
    if text in SIZES:
        return text
    if text in _BY_PIXELS:
        return _BY_PIXELS[text]
    raise InvalidSize(
        f"size must be one of HD, FHD, 2K, 4K (or 1280, 1920, 2560, 3840); got {value!r}."
    )


def scale_reader(allowed: tuple[int, ...]) -> BeforeValidator:
    def parse_scale(value: Any) -> int:
        text = str(value).strip().lower().removeprefix("x").removesuffix("x")
        if text.isdigit() and int(text) in allowed:
            return int(text)
        choices = " or ".join(str(a) for a in allowed)
        raise InvalidParameter(f"scale must be {choices}; got {value!r}.")

    return BeforeValidator(parse_scale)


Size = Annotated[
    Literal["HD", "FHD", "2K", "4K"],
    BeforeValidator(parse_size),
    Field(description="longest edge 1280 / 1920 / 2560 / 3840 px (the numbers work too)"),
]
ModelName = Annotated[
    str,
    BeforeValidator(lambda value: str(value).strip().lower()),
    Field(
        description="fast (SRVGGNetCompact), quality (RRDBNet x4plus), anime (x4plus-anime)",
        json_schema_extra={"enum": ["fast", "quality", "anime"]},
    ),
]


class Sized(Output):
    """An output size: a scale factor or a size tier, not both."""

    size: Size | None = None
    model: ModelName = DEFAULT_MODEL

    @classmethod
    def check_given(cls, given: dict[str, Any]) -> None:
        if "scale" in given and "size" in given:
            raise InvalidParameter("Give either scale or size, not both.")


class UpscaleParams(Sized):
    scale: Annotated[Literal[2, 4], scale_reader(SCALES), Field(description="default 2")] | None = (
        None
    )


def memory_mb(spec: ModelSpec, in_size: tuple[int, int], out_size: tuple[int, int]) -> float:
    """What an upscale takes in its replica beyond the baseline: the blobs of the tiles it
    runs at once in the runtime (models.yaml `work_mb` x `parallel_tiles`) and the stitched
    image (x`scale`, or x1/x2 when that is the output: core/scaling.py), the output and the
    copy handed to the dispatcher at 4 bytes a value (measured, loadtest/bench_memory.py:
    the peaks of fast 1024 px -> 4K and quality 512 px -> 2K / 1024 px -> 4K jobs are work_mb
    plus 3.9x their sizes as uint8: float32 working copies)."""
    factor = stitch_factor(*in_size, spec.scale, out_size)
    stitched = in_size[0] * in_size[1] * factor**2 * 3
    output = out_size[0] * out_size[1] * 3
    return spec.work_mb * spec.parallel_tiles + 4 * (stitched + 2 * output) / 2**20


def check_memory(given: Given, model: str, in_size: tuple[int, int], out_size: tuple[int, int]):
    """Refused before any credit moves rather than swapping (PHOTOSERVE_JOB_MEMORY_MB)."""
    limit = given.settings.job_memory_mb
    need = memory_mb(given.catalog.specs[model], in_size, out_size)
    if limit is not None and need > limit:
        raise JobTooLarge(
            f"{in_size[0]}x{in_size[1]} -> {out_size[0]}x{out_size[1]} with {model} needs about "
            f"{need:.0f} MB; one job may take {limit} MB here: choose a smaller output, a "
            "smaller input or the fast model."
        )


def model_name(catalog: Catalog, name: str) -> str:
    """An upscale model by alias or name, refused with 503 when its weights are missing."""
    spec = catalog.find(NAME, name)
    if spec is None:
        choices = ", ".join(sorted(s.alias or s.name for s in catalog.for_operation(NAME)))
        raise InvalidParameter(f"model must be one of {choices}; got {name!r}.")
    if not catalog.available(spec):
        raise ModelUnavailable(f"The {name} upscaler has no weights on this server.")
    return spec.name


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


def _fit(info: ImageInfo, edge: int) -> tuple[int, int]:
    ratio = edge / info.longest
    return max(1, round(info.width * ratio)), max(1, round(info.height * ratio))


def geometry(scale: int | None, size: str | None, given: Given, default_scale: int) -> Geometry:
    """The output size asked for: a size tier larger than the image, or a scale factor whose
    output fits the output limit."""
    info = given.image
    if size is not None:
        if SIZES[size] <= info.longest:
            raise InvalidSize(
                f"size {size} ({SIZES[size]} px) is not larger than the image "
                f"({info.longest} px); choose a larger size or a scale."
            )
        return Geometry(None, size, *_fit(info, SIZES[size]))
    scale = scale or default_scale
    width, height = info.width * scale, info.height * scale
    edge = given.settings.max_output_edge
    if max(width, height) > edge:
        raise PixelTooLarge(
            f"x{scale} would make a {width}x{height} image; the output limit is "
            f"{edge} px on the longest edge."
        )
    return Geometry(scale, None, width, height)


def job_params(model: str, shape: Geometry, params: Sized, cost: int) -> dict[str, Any]:
    """What an upscaled job carries: its model, output size and file, and its price."""
    return {
        "model": model,
        "scale": shape.scale,
        "size": shape.size,
        "out_width": shape.out_width,
        "out_height": shape.out_height,
        "output_format": params.output_format,
        "cost": cost,
        "quality": params.quality,
    }


def plan(params: UpscaleParams, given: Given) -> Plan:
    model = model_name(given.catalog, params.model)
    shape = geometry(params.scale, params.size, given, default_scale=2)
    check_memory(given, model, given.image.size, (shape.out_width, shape.out_height))
    cost = given.price(shape.tier)
    return Plan(job_params(model, shape, params, cost), cost, shape.label)


OPERATION = Operation(
    name=NAME,
    summary="Upscale a photo x2 / x4 or to HD, FHD, 2K, 4K with Real-ESRGAN",
    description=(
        "`Idempotency-Key` makes retries safe (the same key and payload return the original "
        "job); `?wait=N` (up to 60 s) answers with the finished job, or its image with "
        "`Accept: image/*`. Transparency is kept (the alpha channel is resized alongside)."
    ),
    params=UpscaleParams,
    plan=plan,
    deployment="deployments.upscale.upscaler:Upscaler",
    price=Price.BY_OUTPUT,
    models=(NAME,),
    max_edge=upscale_edge,
)

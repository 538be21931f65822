"""What the editing operations ask for: remove-background, segment, erase-object, inpaint and
enhance. Each planner checks the parameters (PixelForge's names and defaults), the model's
weights and the mask, and prices the job — all before any credit moves.

The result always has the input's size.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from serve_app.core import parsing
from serve_app.core.catalog import Catalog
from serve_app.core.errors import InvalidParameter, ModelUnavailable, NoMask, PromptTooLong
from serve_app.core.plans import Plans
from serve_app.engine import masks
from serve_app.engine.images import ImageInfo
from serve_app.operations import upscale

# What `photoserve weights fetch` needs per operation, for the 503's hint.
FETCH = {
    "remove-background": "u2net",
    "segment": "sam-vit-b",
    "erase-object": "big-lama",
    "inpaint": "sd-inpainting",
}
# CLIP reads 77 tokens (~300-400 characters of English); longer prompts would be cut silently
MAX_PROMPT_CHARS = 400
DEFAULT_PROMPT = "high quality photo"  # PixelForge's default
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class EditPlan:
    params: dict[str, Any]
    cost: int
    mask: bytes | None = None  # the checked, binary mask PNG to store with the job


def model_for(catalog: Catalog, operation: str) -> str:
    for spec in catalog.for_operation(operation):
        if catalog.available(spec):
            return spec.name
    raise ModelUnavailable(
        f"{operation} has no weights on this server: run `photoserve weights fetch "
        f"{FETCH[operation]}` where there is internet."
    )


def parse_color(value: Any) -> str | None:
    if value in (None, "", "transparent"):
        return None
    match = _HEX.match(str(value).strip())
    if not match:
        raise InvalidParameter(f"bg_color must be a hex colour like #ffffff; got {value!r}.")
    return "#" + match.group(1).lower()


def output(raw: Mapping[str, Any], default: str = "png") -> dict[str, Any]:
    """`output_format`, or PixelForge's `format`, and `quality`."""
    fmt = upscale.parse_format(raw.get("output_format") or raw.get("format"), default=default)
    return {
        "output_format": fmt,
        "quality": parsing.integer(raw.get("quality"), "quality", 1, 100, None),
    }


def sized(info: ImageInfo) -> dict[str, Any]:
    return {"out_width": info.width, "out_height": info.height}


def plan_remove_background(raw, info, catalog, plans, mask) -> EditPlan:
    bg_color = parse_color(raw.get("bg_color"))
    only_mask = parsing.boolean(raw.get("only_mask"), "only_mask")
    out = output(raw)
    if out["output_format"] == "jpg" and bg_color is None and not only_mask:
        raise InvalidParameter("jpg has no transparency: use png or webp, or give bg_color.")
    model = model_for(catalog, "remove-background")
    params = {"model": model, "bg_color": bg_color, "only_mask": only_mask, **out, **sized(info)}
    return EditPlan(params, plans.cost("remove-background", "flat", ""))


def prompts(raw: Mapping[str, Any], info: ImageInfo, required: bool) -> dict[str, Any]:
    points = masks.parse_points(raw.get("points"), info)
    box = masks.parse_box(raw.get("box"), info)
    if required and not points and box is None:
        raise InvalidParameter(f"Give `points` ({masks.EXAMPLES['points']}) and/or `box`.")
    return {"points": points, "box": box} if points or box is not None else {}


def plan_segment(raw, info, catalog, plans, mask) -> EditPlan:
    clicks = prompts(raw, info, required=True)
    multimask = parsing.boolean(raw.get("multimask"), "multimask", default=True)
    model = model_for(catalog, "segment")
    params = {"model": model, "multimask": multimask, **clicks, **output(raw), **sized(info)}
    return EditPlan(params, plans.cost("segment", "flat", ""))


def mask_or_clicks(raw, info, catalog, mask: bytes | None) -> tuple[dict[str, Any], bytes | None]:
    """A mask file, or clicks that the Segmenter turns into one."""
    if mask is not None:
        return {}, masks.read_mask(mask, info)
    clicks = prompts(raw, info, required=False)
    if not clicks:
        raise NoMask("Send a `mask` (white = the area to change), or `points`/`box` to find it.")
    return {**clicks, "segment_model": model_for(catalog, "segment")}, None


def plan_erase(raw, info, catalog, plans, mask) -> EditPlan:
    model = model_for(catalog, "erase-object")
    clicks, checked = mask_or_clicks(raw, info, catalog, mask)
    params = {"model": model, **clicks, **output(raw), **sized(info)}
    return EditPlan(params, plans.cost("erase-object", "flat", ""), checked)


def parse_prompt(value: Any, name: str, default: str | None) -> str | None:
    if value in (None, ""):
        return default
    if not isinstance(value, str):
        raise InvalidParameter(f"{name} must be text.")
    text = " ".join(value.split())
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptTooLong(
            f"{name} is {len(text)} characters; at most {MAX_PROMPT_CHARS} (CLIP reads 77 tokens)."
        )
    return text or default


def plan_inpaint(raw, info, catalog, plans, mask) -> EditPlan:
    generation = {
        "prompt": parse_prompt(raw.get("prompt"), "prompt", DEFAULT_PROMPT),
        "negative_prompt": parse_prompt(raw.get("negative_prompt"), "negative_prompt", None),
        "steps": parsing.integer(raw.get("steps"), "steps", 1, 100, 30),
        "cfg_scale": parsing.number(raw.get("cfg_scale"), "cfg_scale", 0.0, 30.0, 7.0),
        "strength": parsing.number(raw.get("strength"), "strength", 0.01, 1.0, 0.85),
        "seed": parsing.integer(raw.get("seed"), "seed", 0, 2**32 - 1, None),
    }
    if int(generation["steps"] * generation["strength"]) < 1:
        raise InvalidParameter("steps x strength must be at least 1: no denoising step would run.")
    model = model_for(catalog, "inpaint")
    clicks, checked = mask_or_clicks(raw, info, catalog, mask)
    params = {"model": model, **generation, **clicks, **output(raw), **sized(info)}
    return EditPlan(params, plans.cost("inpaint", "flat", ""), checked)


def plan_enhance(raw, info, catalog, plans, mask) -> EditPlan:
    settings = {
        "wb": parsing.boolean(raw.get("wb"), "wb", default=True),
        "color": parsing.number(raw.get("color"), "color", -10, 10, 0.0),
        "strength": parsing.number(raw.get("strength"), "strength", 0, 1, 1.0),
        "denoise": parsing.boolean(raw.get("denoise"), "denoise"),
    }
    model = upscale.model_name(catalog, "fast") if settings["denoise"] else ""
    params = {"model": model, **settings, **output(raw), **sized(info)}
    return EditPlan(params, plans.cost("enhance", "flat", ""))


Planner = Callable[[Mapping[str, Any], ImageInfo, Catalog, Plans, bytes | None], EditPlan]
PLANNERS: dict[str, Planner] = {
    "remove-background": plan_remove_background,
    "segment": plan_segment,
    "erase-object": plan_erase,
    "inpaint": plan_inpaint,
    "enhance": plan_enhance,
}

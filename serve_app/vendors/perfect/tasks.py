"""Perfect Corp's tasks in our terms: each slug's operation and parameters, its payload
(`request_id`, `file_sets`, one action), and its error codes for ours."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from serve_app.core.errors import InvalidParameter
from serve_app.operations import (
    aging,
    colorize,
    enhance,
    erase_object,
    generate,
    makeup_transfer,
    remove_background,
    upscale,
    validated,
)

ACTION = "action_id"
HAIR = ("hair-style", "wig", "hair-extension", "hair-bang", "hair-volume")
# our error code -> Perfect's (its task `error` enum and error_code)
ERRORS = {
    "image_too_large": "exceed_max_filesize",
    "pixel_too_large": "invalid_parameter",
    "invalid_parameter": "invalid_parameter",
    "invalid_size": "invalid_parameter",
    "job_too_large": "invalid_parameter",
    "corrupt_image": "error_decode_image",
    "invalid_format": "error_decode_image",
    "invalid_mask": "error_decode_mask",
    "mask_size_mismatch": "error_decode_mask",
    "empty_mask": "error_decode_mask",
    "no_mask": "error_decode_mask",
    "url_fetch_failed": "error_download_image",
    "error_inference": "error_inference",
    "timeout": "error_inference",
    # the face checks of its hair tasks: already its codes
    **{code: code for code in ("error_no_face", "error_multiple_people", "error_face_parsing")},
    **{code: code for code in ("error_large_face_angle", "error_pose")},
}


def perfect_code(code: str | None) -> str:
    return ERRORS.get(code or "", "unknown_internal_error")


class Action(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int = Field(ge=0)
    params: dict[str, Any] = Field(default_factory=dict)


class FileSets(BaseModel):
    model_config = ConfigDict(extra="ignore")
    src_ids: list[str] = Field(min_length=1, max_length=1)
    mask_ids: list[str] = Field(default_factory=list, max_length=1)
    ref_ids: list[str] = Field(default_factory=list, max_length=1)  # makeup transfer


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    file_sets: FileSets | None = None  # required by every task that takes a photo
    actions: list[Action] = Field(min_length=1, max_length=1)


class TaskBody(BaseModel):
    """POST task/{task}: `request_id` (same file + same request_id = the same task, never run
    or charged twice) and the payload."""

    model_config = ConfigDict(extra="ignore")
    request_id: int = Field(ge=0)
    payload: Payload

    @classmethod
    def read(cls, raw: Any) -> TaskBody:
        return validated(cls, raw)

    @property
    def action(self) -> Action:
        return self.payload.actions[0]


def _output(params: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    ext = str(params.get("output_ext", allowed[0])).lower()
    if ext not in allowed:
        raise InvalidParameter(f"output_ext must be one of {', '.join(allowed)}; got {ext!r}.")
    return {"output_format": ext}


def _enhance(params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    scale = params.get("scale")
    if scale not in (1, 2, 4):
        raise InvalidParameter(f"scale must be 1, 2 or 4; got {scale!r}.")
    out = _output(params, ("jpg", "webp"))
    if scale == 1:
        return enhance.NAME, {**out, **enhance.RESTORE}
    return upscale.NAME, {**out, "scale": scale}


def _text_to_image(params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Its AI Image Generator: `prompt` in the chosen style (`style_group_id`, one of
    `style_ids`), made by the generator; the route puts the style's prompt around it."""
    prompt = params.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidParameter("params.prompt is required.")
    return generate.NAME, {**_output(params, ("jpg",)), "prompt": prompt}


def _hair(name: str):
    """Its hair tasks: one style (`style_group_id`, `style_ids`), a jpg; the operation finds
    the style in its catalog."""

    def native(params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        ids = params.get("style_ids")
        if not isinstance(ids, list) or len(ids) != 1:
            raise InvalidParameter("params.style_ids must hold one style id.")
        style = {"style_group_id": params.get("style_group_id"), "style_id": ids[0]}
        return name, {**_output(params, ("jpg",)), **style}

    return native


def _aging(params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Its aging task: a jpg; `age_group` (ours: child, young, middle, senior) optional."""
    extra = {"age_group": params["age_group"]} if params.get("age_group") else {}
    return aging.NAME, {**_output(params, ("jpg",)), **extra}


@dataclass(frozen=True)
class Task:
    native: Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]
    takes_mask: bool = False
    takes_file: bool = True
    takes_reference: bool = False  # `ref_ids`: a second file (makeup transfer)
    styled: bool = False  # its action names a catalog style (configs/styles/<task>.yaml)


TASKS = {
    "object-removal": Task(
        lambda p: (erase_object.NAME, _output(p, ("jpg", "webp"))), takes_mask=True
    ),
    "background-removal": Task(lambda p: (remove_background.NAME, _output(p, ("png", "webp")))),
    "enhance": Task(_enhance),
    "colorize": Task(lambda p: (colorize.NAME, _output(p, ("jpg", "webp")))),
    "text-to-image": Task(_text_to_image, takes_file=False, styled=True),
    **{name: Task(_hair(name)) for name in HAIR},
    "aging": Task(_aging),
    "makeup-transfer": Task(
        lambda p: (makeup_transfer.NAME, _output(p, ("jpg",))), takes_reference=True
    ),
}
# the names public Perfect clients use for these tasks besides the documented slugs (README)
ALIASES = {"obj-removal": "object-removal", "hair-ext": "hair-extension", "hair-vol": "hair-volume"}
TASKS.update({alias: TASKS[name] for alias, name in ALIASES.items()})

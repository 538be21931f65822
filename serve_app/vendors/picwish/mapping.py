"""PicWish's scale task in our terms: its fields, its auto scale, its price and its states.

`type` clean is the Upscaler (x2/x4), or at x1 a restoration at the input's size: the compact
Real-ESRGAN at x4, each tile reduced back by area (chosen by measurement, README "PicWish");
`type` face is restore-face (GFPGAN on up to 10 faces) over that background.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from serve_app.api.submission import Mapped
from serve_app.core.errors import InvalidParameter, PixelTooSmall
from serve_app.engine.images import ImageInfo
from serve_app.engine.jobs import JobStatus
from serve_app.operations import Params, Plan, enhance, integer, restore_face, upscale

MAX_BYTES = 20 * 1024 * 1024
MAX_EDGE = 4096
FORMATS = ("jpg", "png", "webp", "bmp", "tif", "rgb")
URL_TTL_S = 3600  # "The result image URL is valid for 1 hour."
RETURN = "return_type"
# state: 1 succeeded, > 1 processing (queued counts as processing), < 0 failed
STATE = {JobStatus.QUEUED: 2, JobStatus.PROCESSING: 3, JobStatus.DONE: 1, JobStatus.FAILED: -1}
URL, BASE64, BINARY = 1, 2, 3


def parse_type(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("clean", "face"):
        raise InvalidParameter(f"type must be clean or face; got {value!r}.")
    return text


class ScaleTask(Params):
    """The form fields of POST /api/tasks/visual/scale besides the image."""

    sync: integer(0, 1, "1 waits and answers with the finished task") = 0
    type: Annotated[Literal["clean", "face"], BeforeValidator(parse_type)] = "clean"
    scale_factor: (
        Annotated[Literal[1, 2, 4], upscale.scale_reader((1, 2, 4)), Field(description="auto")]
        | None
    ) = None
    return_type: integer(1, 3, "1 URL, 2 base64, 3 the image (sync only)") = URL

    @classmethod
    def check_given(cls, given: dict[str, Any]) -> None:
        if str(given.get("return_type", "")).strip() == "3" and str(given.get("sync", "0")) != "1":
            raise InvalidParameter("return_type 3 (the image itself) needs sync=1.")


def auto_scale(longest: int) -> int:
    """(10, 512] px long edge -> 4x, (512, 1024] -> 2x, (1024, 4096] -> 1x."""
    if longest <= 10:
        raise PixelTooSmall("The image must be more than 10 px on its long edge.")
    return 4 if longest <= 512 else 2 if longest <= 1024 else 1


def native(task: ScaleTask, info: ImageInfo) -> tuple[str, dict[str, Any]]:
    """(our operation, its parameters) for this task on this image."""
    scale = task.scale_factor or auto_scale(info.longest)
    out = {"output_format": "jpg" if info.format == "jpg" else "png", RETURN: task.return_type}
    if task.type == "face":
        return restore_face.NAME, {**out, "scale": scale}
    if scale == 1:
        return enhance.NAME, {**out, **enhance.RESTORE}
    return upscale.NAME, {**out, "scale": scale}


def mapped(params: dict[str, Any]) -> Mapped:
    """The operation's parameters, and how the result goes back kept with the job."""
    native_params = {k: v for k, v in params.items() if k != RETURN}
    return Mapped(native_params, {RETURN: int(params.get(RETURN, URL))})


def price(info: ImageInfo, planned: Plan) -> int:
    """PicWish's: 2 credits up to 2048 px on the input's long edge, 3 up to 4096."""
    return 2 if info.longest <= 2048 else 3

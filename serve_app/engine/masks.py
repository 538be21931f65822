"""Masks and clicks: what erase, inpaint and segment are told to work on.

A mask is a grayscale image the size of the photo, white = the area to change. It is checked
and reduced to a binary PNG at submit time (a few ms), so a bad mask is a clear 400 before any
credit moves rather than a failed job later.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import orjson
from PIL import Image, ImageOps, UnidentifiedImageError

from serve_app.core.errors import EmptyMask, InvalidMask, InvalidParameter, MaskSizeMismatch
from serve_app.engine.images import ImageInfo, sniff

MAX_POINTS = 20
# JPEG masks drift a few levels between channels; anything beyond that is a colour image
GRAY_TOLERANCE = 12


def read_mask(data: bytes, info: ImageInfo) -> bytes:
    """The mask as a binary (0/255) grayscale PNG, or a clear error."""
    if sniff(data) is None:
        raise InvalidMask("The mask must be a jpg, png or webp image.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.size != (info.width, info.height):
                raise MaskSizeMismatch(
                    f"The mask is {img.size[0]}x{img.size[1]}; the image is "
                    f"{info.width}x{info.height}."
                )
            gray = _gray(ImageOps.exif_transpose(img))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InvalidMask("The mask cannot be read.") from exc
    binary = np.where(gray >= 128, 255, 0).astype(np.uint8)
    if not binary.any():
        raise EmptyMask("The mask has no white pixels: nothing to change.")
    buffer = io.BytesIO()
    Image.fromarray(binary, "L").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _gray(img: Image.Image) -> np.ndarray:
    if img.mode in ("1", "L", "LA", "I", "I;16"):
        return np.asarray(img.convert("L"))
    rgb = np.asarray(img.convert("RGB")).astype(np.int16)
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    if int(spread.max()) > GRAY_TOLERANCE:
        raise InvalidMask("The mask must be grayscale (white = change, black = keep).")
    return rgb.mean(axis=2).astype(np.uint8)


def decode_mask(data: bytes) -> np.ndarray:
    """HxW uint8 from a stored (already checked) mask."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("L"))


def _json_list(value: Any, name: str) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise InvalidParameter(f"{name} must be JSON, e.g. {EXAMPLES[name]}.") from exc
    return value


EXAMPLES = {"points": "[[120, 80, 1], [30, 40, 0]]", "box": "[10, 20, 200, 180]"}


def parse_points(value: Any, info: ImageInfo) -> list[list[int]]:
    """[[x, y, label], ...]: label 1 = on the object, 0 = not; [x, y] means label 1."""
    if value in (None, "", []):
        return []
    points = _json_list(value, "points")
    if not isinstance(points, list) or not 1 <= len(points) <= MAX_POINTS:
        raise InvalidParameter(f"points must be a list of 1 to {MAX_POINTS} [x, y, label].")
    return [_point(p, info) for p in points]


def _point(point: Any, info: ImageInfo) -> list[int]:
    if not isinstance(point, list) or len(point) not in (2, 3):
        raise InvalidParameter(f"Each point is [x, y, label]; got {point!r}.")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point):
        raise InvalidParameter(f"Point values must be numbers; got {point!r}.")
    x, y, label = (*point, 1) if len(point) == 2 else point
    if not (0 <= x < info.width and 0 <= y < info.height):
        raise InvalidParameter(f"Point {point!r} is outside the {info.width}x{info.height} image.")
    if label not in (0, 1):
        raise InvalidParameter(f"A point's label is 1 (object) or 0 (background); got {label!r}.")
    return [int(x), int(y), int(label)]


def parse_box(value: Any, info: ImageInfo) -> list[int] | None:
    if value in (None, "", []):
        return None
    box = _json_list(value, "box")
    valid = (
        isinstance(box, list)
        and len(box) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)
    )
    if not valid:
        raise InvalidParameter(f"box must be [x0, y0, x1, y1]; got {value!r}.")
    x0, y0, x1, y1 = (int(v) for v in box)
    inside = 0 <= x0 < x1 <= info.width and 0 <= y0 < y1 <= info.height
    if not inside:
        raise InvalidParameter(
            f"box must satisfy 0 <= x0 < x1 <= {info.width} and 0 <= y0 < y1 <= {info.height}."
        )
    return [x0, y0, x1, y1]

"""Masks: what erase and inpaint are told to work on.

A mask is a grayscale image the size of the photo, white = the area to change. It is checked
and reduced to a binary PNG at submit time (a few ms), so a bad mask is a clear 400 before any
credit moves rather than a failed job later; the dispatcher decodes the stored one.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from serve_app.core.errors import EmptyMask, InvalidMask, MaskSizeMismatch
from serve_app.engine.images import ImageInfo, sniff

MAX_POINTS = 20
# JPEG masks drift a few levels between channels; anything beyond that is a colour image
GRAY_TOLERANCE = 12


def read_mask(data: bytes, info: ImageInfo) -> bytes:
    """The mask as a binary (0/255) grayscale PNG, or a clear error."""
    if sniff(data) is None:
        raise InvalidMask("The mask must be an image (jpg, png, webp, bmp, tiff).")
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

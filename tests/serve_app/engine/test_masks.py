"""Masks are checked at submit time, with a clear error for each fault, and stored as binary
PNGs that the dispatcher decodes."""

from __future__ import annotations

import numpy as np
import pytest

from loadtest.photos import encode, photo
from serve_app.core.errors import EmptyMask, InvalidMask, MaskSizeMismatch
from serve_app.engine import masks
from serve_app.engine.images import ImageInfo

INFO = ImageInfo("png", 64, 48)


def blob_mask(width=64, height=48) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[10:30, 20:40] = 200
    return mask


def test_a_gray_mask_becomes_binary():
    checked = masks.decode_mask(masks.read_mask(encode(blob_mask()), INFO))
    assert checked.shape == (48, 64)
    assert set(np.unique(checked)) == {0, 255}
    assert (checked == 255).sum() == 20 * 20


def test_an_rgb_mask_with_equal_channels_is_accepted_even_as_jpeg():
    rgb = np.repeat(blob_mask()[..., None], 3, axis=2)
    checked = masks.decode_mask(masks.read_mask(encode(rgb, "JPEG", quality=80), INFO))
    assert abs(int((checked == 255).sum()) - 400) < 40


def test_a_colour_image_is_not_a_mask():
    with pytest.raises(InvalidMask, match="grayscale"):
        masks.read_mask(encode(photo("astronaut", 64)[:48]), INFO)


def test_size_mismatch_says_both_sizes():
    with pytest.raises(MaskSizeMismatch, match=r"64x64.*64x48"):
        masks.read_mask(encode(blob_mask(64, 64)), INFO)


def test_an_all_black_mask_is_empty():
    with pytest.raises(EmptyMask):
        masks.read_mask(encode(np.zeros((48, 64), np.uint8)), INFO)


def test_not_an_image():
    with pytest.raises(InvalidMask):
        masks.read_mask(b"GIF89a....", INFO)
    with pytest.raises(InvalidMask):
        masks.read_mask(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, INFO)

"""Automatic enhancement on real photos with known faults: each correction moves the measured
statistic toward its target, and a good photo is left nearly alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deployments.common import adjust
from deployments.upscale import corrections
from loadtest.photos import photo


def luma(rgb: np.ndarray) -> float:
    return float(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).mean()) / 255


@pytest.fixture(scope="module")
def coffee():
    return photo("coffee", 256)


@pytest.fixture(scope="module")
def astronaut():
    return photo("astronaut", 256)


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIE76 colour difference."""
    from skimage.color import rgb2lab

    return float(np.linalg.norm(rgb2lab(a) - rgb2lab(b), axis=2).mean())


def test_white_balance_takes_a_colour_cast_out(astronaut):
    cast = adjust._to_uint8(astronaut.astype(np.float32) * np.array([1.0, 0.9, 0.65]))
    fixed = corrections.enhance(cast, wb=True)
    assert delta_e(fixed, astronaut) < 0.5 * delta_e(cast, astronaut)
    # and wb=False leaves the cast in place
    kept = corrections.enhance(cast, wb=False)
    assert delta_e(kept, astronaut) > 0.8 * delta_e(cast, astronaut)


@pytest.mark.parametrize("name", ["coffee", "chelsea", "astronaut"])
def test_a_good_photo_comes_back_nearly_as_it_was(name):
    """No cast, well exposed: within a small colour difference, and no more clipping (gray
    world took coffee from mean RGB (159, 86, 52) to (122, 115, 100), 0.5 % -> 7.7 %
    clipped)."""
    image = photo(name)
    out = corrections.enhance(image)
    assert delta_e(out, image) < 1.5
    assert adjust.clipped(out) <= adjust.clipped(image) + 0.001


def test_brightening_stops_before_the_highlights_clip(astronaut):
    dark_with_sky = adjust.exposure(astronaut, -0.8)
    dark_with_sky[:20] = 250  # a bright band that a full +0.8 EV would burn out
    fixed = corrections.enhance(dark_with_sky, wb=False)
    assert luma(fixed) > luma(dark_with_sky)
    assert adjust.clipped(fixed) <= adjust.clipped(dark_with_sky) + 0.002


def test_an_underexposed_photo_is_brightened_toward_the_target(coffee):
    dark = adjust.exposure(coffee, -1.5)
    fixed = corrections.enhance(dark)
    assert (
        abs(luma(fixed) - corrections.TARGET_LUMA) < abs(luma(dark) - corrections.TARGET_LUMA) / 2
    )


def test_a_flat_photo_is_stretched():
    flat = adjust.contrast(photo("astronaut", 256), 0.5)
    fixed = corrections.enhance(flat)
    low, high = np.percentile(cv2.cvtColor(fixed, cv2.COLOR_RGB2GRAY), [1, 99])
    low0, high0 = np.percentile(cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY), [1, 99])
    assert high - low > 1.4 * (high0 - low0)


def test_washed_out_colours_gain_saturation():
    washed = adjust.saturation(photo("chelsea", 256), 0.35)
    assert corrections.chroma(washed) < corrections.TARGET_CHROMA
    assert (
        corrections.chroma(corrections.enhance(washed, wb=False))
        > corrections.chroma(washed) * 1.15
    )


def test_colourful_photos_keep_their_saturation(coffee):
    assert corrections.analyse(coffee).saturation == 1.0


def test_strength_zero_changes_nothing_and_strength_scales(coffee):
    cast = adjust._to_uint8(coffee.astype(np.float32) * np.array([1.0, 0.9, 0.65]))
    assert np.array_equal(corrections.enhance(cast, strength=0.0), cast)
    half = corrections.analyse(cast, strength=0.5)
    full = corrections.analyse(cast, strength=1.0)
    assert 0 < half.white_balance < full.white_balance


def test_warmth_follows_color(coffee):
    warm = corrections.enhance(coffee, color=8).astype(np.float64)
    cool = corrections.enhance(coffee, color=-8).astype(np.float64)
    assert warm[..., 0].mean() > cool[..., 0].mean()
    assert warm[..., 2].mean() < cool[..., 2].mean()


def test_a_grayscale_photo_stays_gray():
    camera = photo("camera", 256)
    fixed = corrections.enhance(camera)
    assert np.abs(fixed[..., 0].astype(int) - fixed[..., 2]).max() <= 1


def test_deterministic_and_same_size(coffee):
    first, second = corrections.enhance(coffee), corrections.enhance(coffee)
    assert np.array_equal(first, second) and first.shape == coffee.shape

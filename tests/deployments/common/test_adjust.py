"""Golden-value checks of the colour steps on real photos."""

from __future__ import annotations

import numpy as np

from deployments.common import adjust
from loadtest.photos import photo


def cast(image: np.ndarray, gains=(1.25, 1.0, 0.75)) -> np.ndarray:
    return np.clip(image.astype(np.float32) * np.array(gains, np.float32), 0, 255).astype(np.uint8)


def channel_spread(image: np.ndarray) -> float:
    means = image.reshape(-1, 3).mean(0)
    return float(means.max() - means.min())


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIE76 colour difference."""
    from skimage.color import rgb2lab

    return float(np.linalg.norm(rgb2lab(a) - rgb2lab(b), axis=2).mean())


def test_white_balance_takes_a_cast_out_toward_the_original():
    original = photo("astronaut")
    warm = cast(original)
    balanced = adjust.white_balance(warm)
    assert delta_e(balanced, original) < 0.5 * delta_e(warm, original)
    half = adjust.white_balance(warm, strength=0.5)
    assert delta_e(balanced, original) < delta_e(half, original) < delta_e(warm, original)


def test_white_balance_leaves_warm_scenes_warm():
    """Coffee is brown under neutral light: gray world would drain it (mean RGB (159, 86, 52)
    -> (122, 115, 100)); no cast is measured, so nothing changes."""
    for name in ("coffee", "chelsea", "astronaut", "rocket"):
        image = photo(name)
        assert delta_e(adjust.white_balance(image), image) < 1.5, name


def test_white_balance_clips_no_more_highlights():
    bright = adjust.exposure(cast(photo("astronaut")), 0.5)
    assert adjust.clipped(adjust.white_balance(bright)) <= adjust.clipped(bright) + 0.002


def test_warmth_tilts_red_against_blue_and_zero_is_identity():
    image = photo("astronaut")
    ratio = lambda im: im[..., 0].mean() / max(im[..., 2].mean(), 1)  # noqa: E731
    assert ratio(adjust.warmth(image, 10)) > ratio(image) > ratio(adjust.warmth(image, -10))
    assert np.array_equal(adjust.warmth(image, 0), image)


def test_saturation_and_contrast():
    image = photo("chelsea")
    desaturated = adjust.saturation(image, 0.0).astype(int)
    assert np.abs(desaturated - desaturated[..., :1]).max() <= 1  # gray: channels equal
    assert adjust.saturation(image, 1.5).std(axis=2).mean() > image.std(axis=2).mean()
    assert adjust.contrast(image, 1.3).std() > image.std() > adjust.contrast(image, 0.7).std()


def test_autocontrast_stretches_a_flat_photo():
    flat = (photo("coffee").astype(np.float32) * 0.5 + 60).astype(np.uint8)
    stretched = adjust.autocontrast(flat)
    assert stretched.min() <= 5 and stretched.max() >= 250


def test_exposure_and_soften():
    image = photo("astronaut", 128)
    assert adjust.exposure(image, 0.5).mean() > image.mean()
    softened = adjust.soften(image, 0.5)
    assert (
        np.abs(np.diff(softened.astype(int), axis=1)).mean()
        < np.abs(np.diff(image.astype(int), axis=1)).mean()
    )


def test_identity_adjustments_change_nothing():
    image = photo("astronaut", 64)
    assert adjust.Adjustments().is_identity()
    assert np.array_equal(adjust.apply(image, adjust.Adjustments()), image)

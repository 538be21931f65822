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


def test_white_balance_moves_a_colour_cast_toward_neutral():
    warm = cast(photo("coffee"))
    balanced = adjust.white_balance(warm)
    assert channel_spread(balanced) < 0.2 * channel_spread(warm)
    half = adjust.white_balance(warm, strength=0.5)
    assert channel_spread(balanced) < channel_spread(half) < channel_spread(warm)


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

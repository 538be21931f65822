"""Classical, deterministic colour and tone adjustments (uint8 RGB in, uint8 RGB out).

Used by PND AI's five "looks" and its `wb`/`color` fields, and by the enhance operation.
Each step is a small, testable function; `apply` runs the ones a request asked for in a
fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deployments.common.lazy import cv2


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


# A colour cast smaller than this (the largest channel's log gain) is what scenes show on
# their own; correction ramps in over the next CAST_RAMP. Measured on skimage's photos with
# `illuminant`: coffee 0.04, chelsea 0.10, astronaut 0.02, rocket 0.08 without a cast; the
# same photos x (1.0, 0.9, 0.65) 0.18-0.31, x (0.75, 0.9, 1.0) 0-0.14, x (0.85, 1, 0.8) 0.1-0.2.
CAST_FREE, CAST_RAMP = 0.08, 0.08
THUMB_EDGE = 256


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """At most THUMB_EDGE px on the long side (area-averaged): where statistics are taken."""
    scale = THUMB_EDGE / max(rgb.shape[:2])
    if scale >= 1:
        return rgb
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def illuminant(rgb: np.ndarray) -> np.ndarray:
    """The light's colour as log gains per channel (mean 0) where two estimates agree: white
    patch (each channel's 99th percentile: highlights reflect the light) and shades of gray
    (each channel's Minkowski mean, p = 6). Alone, each takes a warm scene for warm light
    (coffee, no cast: gray world 0.65, shades of gray 0.19); a real cast moves both the same
    way, so per channel the smaller of the two when their signs agree, else nothing."""
    pixels = thumbnail(rgb).reshape(-1, 3).astype(np.float64) + 1.0
    patch = np.log(np.percentile(pixels, 99, axis=0))
    shades = np.log(np.mean(pixels**6, axis=0)) / 6
    patch, shades = patch - patch.mean(), shades - shades.mean()
    agree = np.sign(patch) == np.sign(shades)
    return np.where(agree, np.sign(patch) * np.minimum(np.abs(patch), np.abs(shades)), 0.0)


def cast_strength(rgb: np.ndarray) -> float:
    return float(np.abs(illuminant(rgb)).max())


def _brightest(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's largest channel, on every k-th row and column of a large photo (a
    sample, not an average: highlights keep their values)."""
    step = max(1, max(rgb.shape[:2]) // 1024)
    return rgb[::step, ::step].max(axis=2)


def clipped(rgb: np.ndarray) -> float:
    """The share of pixels with a channel at the top."""
    return float((_brightest(rgb) >= 254).mean())


def highlight_room(rgb: np.ndarray) -> float:
    """How much brighter the photo may get (a factor >= 1) before more of it clips than
    already does (0.1 % allowed)."""
    brightest = _brightest(rgb)
    share = max(float((brightest >= 254).mean()), 0.001)
    top = float(np.quantile(brightest, 1 - share))
    return max(1.0, 255.0 / max(top, 1.0))


def white_balance(rgb: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Take out a measured colour cast (`illuminant`), scaled by `strength` and only past
    what scenes show on their own (CAST_FREE): warm scenes stay warm. The gains keep the
    mean brightness and are lowered together where they would clip more highlights."""
    cast = illuminant(rgb)
    amount = strength * float(np.clip((np.abs(cast).max() - CAST_FREE) / CAST_RAMP, 0, 1))
    if amount <= 0:
        return rgb
    gains = np.exp(-amount * cast)
    means = thumbnail(rgb).reshape(-1, 3).astype(np.float64).mean(0)
    gains *= means.sum() / max(float((means * gains).sum()), 1e-6)
    gains /= max(1.0, float(gains.max()) / highlight_room(rgb))
    return _to_uint8(rgb.astype(np.float32) * gains.astype(np.float32))


def warmth(rgb: np.ndarray, amount: float) -> np.ndarray:
    """amount -10 (cool, bluer) .. +10 (warm, redder): up to ±15% on red and blue."""
    shift = float(np.clip(amount, -10, 10)) / 10 * 0.15
    gains = np.array([1 + shift, 1.0, 1 - shift], np.float32)
    return _to_uint8(rgb.astype(np.float32) * gains)


def saturation(rgb: np.ndarray, factor: float) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)[:, :, None]
    return _to_uint8(gray + (rgb.astype(np.float32) - gray) * factor)


def contrast(rgb: np.ndarray, factor: float) -> np.ndarray:
    mean = rgb.mean()
    return _to_uint8((rgb.astype(np.float32) - mean) * factor + mean)


def exposure(rgb: np.ndarray, stops: float) -> np.ndarray:
    return _to_uint8(rgb.astype(np.float32) * (2.0**stops))


def autocontrast(rgb: np.ndarray, clip_percent: float = 0.5) -> np.ndarray:
    """Stretch the range to 0..255: from the luminance's `clip_percent` percentile up to
    where the brightest channel starts to clip no more than it already did."""
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    low = float(np.percentile(luma, clip_percent))
    high = 255.0 / highlight_room(rgb)
    if high - low < 1:
        return rgb
    return _to_uint8((rgb.astype(np.float32) - low) * (255.0 / (high - low)))


def soften(rgb: np.ndarray, amount: float) -> np.ndarray:
    """Blend with a blurred copy: a gentle glow (amount 0..1)."""
    sigma = max(1.0, min(rgb.shape[:2]) / 200)
    blurred = cv2.GaussianBlur(rgb, (0, 0), sigma).astype(np.float32)
    return _to_uint8(rgb.astype(np.float32) * (1 - amount) + blurred * amount)


@dataclass(frozen=True)
class Adjustments:
    white_balance: float = 0.0  # 0 off .. 1: the measured cast taken out in full
    autocontrast: bool = False
    exposure: float = 0.0  # stops
    warmth: float = 0.0  # -10 .. +10
    saturation: float = 1.0
    contrast: float = 1.0
    soften: float = 0.0

    def is_identity(self) -> bool:
        return self == Adjustments()


def apply(rgb: np.ndarray, adjustments: Adjustments) -> np.ndarray:
    a = adjustments
    if a.white_balance:
        rgb = white_balance(rgb, a.white_balance)
    if a.autocontrast:
        rgb = autocontrast(rgb)
    if a.exposure:
        rgb = exposure(rgb, a.exposure)
    if a.warmth:
        rgb = warmth(rgb, a.warmth)
    if a.saturation != 1.0:
        rgb = saturation(rgb, a.saturation)
    if a.contrast != 1.0:
        rgb = contrast(rgb, a.contrast)
    if a.soften:
        rgb = soften(rgb, a.soften)
    return rgb

"""Automatic enhancement: measure what a photo needs, then apply the colour steps of
deployments/common/adjust.py.

Deterministic and cheap (a few statistics on a thumbnail, then per-pixel arithmetic). Each
correction is clamped so a photo that is already fine is left nearly alone, and `strength`
(0..1) scales all of them.
"""

from __future__ import annotations

import numpy as np

from deployments.common import adjust
from deployments.common.lazy import cv2

TARGET_LUMA = 0.46  # mean luminance of a well-exposed photo, 0..1
MAX_STOPS = 1.0
# mean chroma (max - min channel, 0..1) below which colours look washed out; real photos in
# skimage.data measure 0.15 (rocket) to 0.45 (coffee)
TARGET_CHROMA = 0.15
MAX_SATURATION_GAIN = 1.3
# luminance 1..99th percentile span below which a photo looks flat: soft light is not flat
# (chelsea 0.60, rocket 0.68; astronaut at half contrast 0.49)
MIN_RANGE = 0.55


def exposure_stops(rgb: np.ndarray) -> float:
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64) / 255
    mean = max(float(luma.mean()), 1e-3)
    return float(np.clip(np.log2(TARGET_LUMA / mean), -MAX_STOPS, MAX_STOPS))


def needs_stretch(rgb: np.ndarray) -> bool:
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    low, high = np.percentile(luma, [1, 99])
    return (high - low) / 255 < MIN_RANGE


def chroma(rgb: np.ndarray) -> float:
    return float((rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)).mean()) / 255


def saturation_gain(rgb: np.ndarray) -> float:
    mean = chroma(rgb)
    if mean >= TARGET_CHROMA or mean < 0.02:  # fine already, or a grayscale photo
        return 1.0
    return float(min(MAX_SATURATION_GAIN, TARGET_CHROMA / mean))


def analyse(rgb: np.ndarray, strength: float = 1.0, wb: bool = True, color: float = 0.0):
    """The adjustments this photo needs, scaled by `strength`; `color` -10 cool .. +10 warm."""
    thumb = adjust.thumbnail(rgb)
    balance = strength if wb and adjust.cast_strength(thumb) > adjust.CAST_FREE else 0.0
    if balance:
        thumb = adjust.white_balance(thumb, balance)
    stretch = strength > 0 and needs_stretch(thumb)
    if stretch:
        thumb = adjust.autocontrast(thumb)
    # measured after the steps that run before it in adjust.apply; brightening stops where
    # more highlights would clip than the photo already has
    stops = exposure_stops(thumb) * strength
    stops = min(stops, float(np.log2(adjust.highlight_room(thumb))))
    return adjust.Adjustments(
        white_balance=balance,
        autocontrast=stretch,
        exposure=round(stops, 3) if abs(stops) > 0.1 else 0.0,
        warmth=float(color),
        saturation=1 + (saturation_gain(thumb) - 1) * strength,
    )


def enhance(rgb: np.ndarray, strength: float = 1.0, wb: bool = True, color: float = 0.0):
    return adjust.apply(rgb, analyse(rgb, strength, wb, color))

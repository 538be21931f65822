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


def white_balance(rgb: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Gray world: scale each channel so the image's mean is neutral."""
    pixels = rgb.reshape(-1, 3).astype(np.float64)
    means = pixels.mean(0)
    gains = means.mean() / np.maximum(means, 1e-6)
    gains = 1 + strength * (gains - 1)
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
    """Stretch the luminance range between the given percentiles to 0..255."""
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    low, high = np.percentile(luma, [clip_percent, 100 - clip_percent])
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
    white_balance: float = 0.0  # 0 off .. 1 full gray world
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

"""Where a diffusion model repaints a masked area: a crop around the mask, with context,
scaled to the model's native resolution (a small mask on a large photo keeps its detail),
and the paste back through a feathered mask: every pixel outside the mask's band keeps its
original value, since the VAE round trip alters the whole crop. Used by the SD 1.5
inpainting and the FLUX.2 masked edit."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deployments.common.lazy import cv2

MIN_CONTEXT_PX = 32  # context kept around the mask's bounding box, at least
CONTEXT = 0.5  # ... or this fraction of the box's longest side
MAX_ASPECT = 2.0  # crops are widened towards this aspect ratio at most: models dislike slivers
FEATHER_WORK_PX = 8  # blend band outside the mask, in working pixels (one SD latent pixel)


@dataclass(frozen=True)
class Crop:
    """Where the pipeline works: a box of the original and the size it is scaled to."""

    x0: int
    y0: int
    x1: int
    y1: int
    work: tuple[int, int]  # (width, height), multiples of the model's

    @property
    def size(self) -> tuple[int, int]:
        return self.x1 - self.x0, self.y1 - self.y0

    @property
    def box(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def feather(self) -> int:
        """Blend band in original pixels: FEATHER_WORK_PX working pixels."""
        scale = max(self.size) / max(self.work)
        return max(1, math.ceil(FEATHER_WORK_PX * scale))


def _round(value: float, multiple: int) -> int:
    return max(multiple, round(value / multiple) * multiple)


def _widen(lo: int, hi: int, want: int, limit: int) -> tuple[int, int]:
    """Grow [lo, hi) to `want` long around its centre, shifted to stay inside [0, limit)."""
    want = min(want, limit)
    if hi - lo >= want:
        return lo, hi
    lo = max(0, (lo + hi - want) // 2)
    hi = min(limit, lo + want)
    return hi - want, hi


def plan_crop(mask: np.ndarray, native: int, multiple: int = 8) -> Crop:
    ys, xs = np.nonzero(mask)
    height, width = mask.shape
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    pad = max(MIN_CONTEXT_PX, round(CONTEXT * max(x1 - x0, y1 - y0)))
    x0, x1 = max(0, x0 - pad), min(width, x1 + pad)
    y0, y1 = max(0, y0 - pad), min(height, y1 + pad)
    x0, x1 = _widen(x0, x1, math.ceil((y1 - y0) / MAX_ASPECT), width)
    y0, y1 = _widen(y0, y1, math.ceil((x1 - x0) / MAX_ASPECT), height)
    scale = native / max(x1 - x0, y1 - y0)
    work = (_round((x1 - x0) * scale, multiple), _round((y1 - y0) * scale, multiple))
    return Crop(x0, y0, x1, y1, work)


def feather_alpha(mask: np.ndarray, radius: int) -> np.ndarray:
    """1 inside the mask, falling linearly to 0 at `radius` pixels outside it; exactly 0
    beyond, so those pixels keep their original values."""
    outside = (mask == 0).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 5)
    return np.clip(1.0 - distance / radius, 0.0, 1.0).astype(np.float32)


def work_mask(mask: np.ndarray, crop: Crop) -> np.ndarray:
    """The crop's mask at working size: any coverage of a working pixel counts as masked, so
    the repainted area covers the mask."""
    inside = mask[crop.box].astype(np.float32)
    coverage = cv2.resize(inside, crop.work, interpolation=cv2.INTER_AREA)
    return np.where(coverage > 0, 255, 0).astype(np.uint8)


def back_to_size(generated: np.ndarray, crop: Crop) -> np.ndarray:
    return cv2.resize(generated, crop.size, interpolation=cv2.INTER_CUBIC)


def paste(image: np.ndarray, generated: np.ndarray, mask: np.ndarray, crop: Crop) -> np.ndarray:
    """`generated` (the crop's size) over `image`, through the feathered mask only."""
    box = crop.box
    alpha = feather_alpha(mask[box], crop.feather)
    touched = alpha > 0
    weight = alpha[touched][:, None]
    output = image.copy()
    region = output[box]
    blended = region[touched] * (1.0 - weight) + generated[touched] * weight
    region[touched] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return output

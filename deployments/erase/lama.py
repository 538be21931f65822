"""big-lama (LaMa, Suvorov et al., WACV 2022) through spandrel: erase what a mask covers.

IOPaint's "crop" strategy: LaMa runs only on a box around each masked region (grown by a
margin of context, shrunk for inference when still large), so a small object in a 4K photo
costs a small inference. The fill is pasted back inside the mask plus a thin band, feathered
across the band; every pixel farther than BAND from the mask is the input's, byte for byte.
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from deployments.common.device import DeviceConfig
from deployments.common.lazy import cv2

MIN_MARGIN = 64  # px of context around a region, at least...
MARGIN_RATIO = 0.25  # ...or this share of the region's longer side
MAX_SIDE = 1024  # a crop longer than this is shrunk for inference
BAND = 6  # px around the mask also refilled (halos, edges the mask missed), feathered
MAX_REGIONS = 32  # more separate regions than this (speckle) become one crop
MULTIPLE = 8  # spandrel's LaMa: sides a multiple of 8 (three stride-2 stages)...
MIN_SIDE = 16  # ...and at least 16


class Box(NamedTuple):
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


@dataclass
class LaMaModel:
    module: object  # spandrel's LaMa nn.Module: (image, mask) -> image, both in 0..1
    device: DeviceConfig


def read_state_dict(path: Path) -> dict:
    """The official big-lama.pt is a TorchScript archive; a plain state dict (.pth,
    .safetensors, e.g. converted once) is read as such."""
    if not path.is_file():
        raise FileNotFoundError(str(path))
    if not _is_torchscript(path):
        from deployments.common.checkpoints import load_state_dict

        return load_state_dict(path)
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, the file is not
        return torch.jit.load(str(path), map_location="cpu").state_dict()


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name for name in archive.namelist())


def load(path: Path, device: DeviceConfig) -> LaMaModel:
    from deployments.common.checkpoints import fp32_module

    # fp32 even on CUDA (device.half ignored): LaMa's Fourier convolutions overflow in fp16
    return LaMaModel(fp32_module(read_state_dict(path), "LaMa", path.name, device), device)


def crop_boxes(mask: np.ndarray) -> list[Box]:
    """One box per connected region, grown by its margin and clipped to the image.

    Per region rather than one box around everything: two small objects far apart cost two
    small inferences, not one over the whole span (which on a big photo would be shrunk and
    lose detail). Grown boxes that overlap are merged, so boxes are disjoint: no pixel is
    filled twice and each crop holds the whole of every hole it touches.
    """
    count, _, stats, _ = cv2.connectedComponentsWithStats(
        (mask > 0).astype(np.uint8), connectivity=8
    )
    height, width = mask.shape
    boxes = [_grow(x, y, w, h, width, height) for x, y, w, h, _ in stats[1:count]]
    if len(boxes) > MAX_REGIONS:
        boxes = [_union(boxes)]
    return _merge(boxes)


def _grow(x: int, y: int, w: int, h: int, width: int, height: int) -> Box:
    x, y, w, h = int(x), int(y), int(w), int(h)  # numpy int32 from OpenCV
    margin = max(MIN_MARGIN, int(MARGIN_RATIO * max(w, h)))
    return Box(
        max(0, x - margin),
        max(0, y - margin),
        min(width, x + w + margin),
        min(height, y + h + margin),
    )


def _union(boxes: list[Box]) -> Box:
    return Box(
        min(b.x0 for b in boxes),
        min(b.y0 for b in boxes),
        max(b.x1 for b in boxes),
        max(b.y1 for b in boxes),
    )


def _merge(boxes: list[Box]) -> list[Box]:
    merged: list[Box] = []
    for box in boxes:
        while True:
            hit = next((m for m in merged if _overlap(m, box)), None)
            if hit is None:
                break
            merged.remove(hit)
            box = _union([hit, box])  # the union may now reach others: look again
        merged.append(box)
    return merged


def _overlap(a: Box, b: Box) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def erase(
    model: LaMaModel, image: np.ndarray, mask: np.ndarray, max_side: int = MAX_SIDE
) -> np.ndarray:
    """image HxWx3 uint8 RGB, mask HxW (nonzero = erase) -> HxWx3 uint8 RGB."""
    check(image, mask)
    result = image.copy()
    for box in crop_boxes(mask):
        erase_box(model, result, image, mask, box, max_side)
    return result


def check(image: np.ndarray, mask: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be HxWx3 uint8, got {image.shape} {image.dtype}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask is {mask.shape}, the image {image.shape[:2]}")


def erase_box(
    model: LaMaModel,
    result: np.ndarray,
    image: np.ndarray,
    mask: np.ndarray,
    box: Box,
    max_side: int = MAX_SIDE,
) -> None:
    """Fill the holes inside `box` and write them into `result` (in place)."""
    rows, cols = box.slices
    crop = image[rows, cols]
    alpha = feather(mask[rows, cols] > 0)
    filled = inpaint(model, crop, alpha > 0, max_side)
    blend = alpha[..., None] * filled + (1.0 - alpha[..., None]) * crop
    inside = alpha > 0  # elsewhere the input stays, untouched by any rounding
    result[rows, cols][inside] = np.clip(np.rint(blend[inside]), 0, 255).astype(np.uint8)


def feather(hole: np.ndarray) -> np.ndarray:
    """1 on the hole, falling linearly to 0 across BAND px around it, 0 beyond."""
    distance = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 5)
    alpha = np.clip(1.0 - distance / (BAND + 1), 0.0, 1.0).astype(np.float32)
    alpha[distance > BAND] = 0.0
    return alpha


def inpaint(model: LaMaModel, crop: np.ndarray, hole: np.ndarray, max_side: int) -> np.ndarray:
    """LaMa on one crop (shrunk to max_side if longer): HxWx3 float32 0..255, crop-sized."""
    height, width = hole.shape
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        # any covered share of a shrunk pixel makes it a hole: thin strokes survive
        hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    filled = _forward(model, crop, hole)
    if scale < 1.0:
        filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_CUBIC)
    return filled


def _forward(model: LaMaModel, crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
    import torch

    height, width = hole.shape
    pad_h, pad_w = _padding(height), _padding(width)
    # mirrored context rather than a flat border, as spandrel pads; the padding is not a hole
    crop = np.pad(crop, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
    hole = np.pad(hole, ((0, pad_h), (0, pad_w)))
    device = model.device.torch_device
    with torch.inference_mode():
        x = torch.from_numpy(crop).to(device).permute(2, 0, 1)[None].float().div_(255.0)
        m = torch.from_numpy(hole).to(device)[None, None].float()
        y = model.module(x, m).clamp_(0.0, 1.0).mul_(255.0)
        out = y[0].permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(out[:height, :width])


def _padding(side: int) -> int:
    return max(MIN_SIDE, -(-side // MULTIPLE) * MULTIPLE) - side

"""Real-ESRGAN tiling (tile, tile_pad, pre_pad), as pure numpy so it is testable on its own.

Each tile is cut with `tile_pad` extra pixels of context on every side that has neighbours;
the network's output for that context is thrown away when the tile is pasted, so the seams
see the same receptive field as a whole-image run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tile:
    # the region this tile owns, in input pixels
    x0: int
    y0: int
    x1: int
    y1: int
    # the region cut from the input (owned region plus context)
    px0: int
    py0: int
    px1: int
    py1: int

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.py0 : self.py1, self.px0 : self.px1]

    def paste(self, out: np.ndarray, result: np.ndarray, scale: int, keep: int = 0) -> None:
        """Copy the owned part of `result` (the network's x`scale` output of `crop`) into
        `out`, which is x`keep` the input (default: x`scale`). A smaller `keep` must divide
        `scale`: each owned block is averaged over (scale/keep)^2 pixels, which lines up with
        the tile's edges, so the stitched image is exactly the x`scale` one reduced by area."""
        keep = keep or scale
        owned = self.owned(result, scale, keep)
        out[self.y0 * keep : self.y1 * keep, self.x0 * keep : self.x1 * keep] = owned

    def owned(self, result: np.ndarray, scale: int, keep: int) -> np.ndarray:
        """The part of `result` this tile owns, x`keep` (a view when keep == scale)."""
        ox, oy = (self.x0 - self.px0) * scale, (self.y0 - self.py0) * scale
        w, h = (self.x1 - self.x0) * scale, (self.y1 - self.y0) * scale
        owned = result[oy : oy + h, ox : ox + w]
        return owned if keep == scale else reduce(owned, scale // keep)


def grid(width: int, height: int, tile: int, pad: int) -> list[Tile]:
    """Tiles covering a width x height image; tile <= 0 means one tile for the whole image."""
    if tile <= 0:
        return [Tile(0, 0, width, height, 0, 0, width, height)]
    tiles = []
    for ty in range(math.ceil(height / tile)):
        for tx in range(math.ceil(width / tile)):
            x0, y0 = tx * tile, ty * tile
            x1, y1 = min(x0 + tile, width), min(y0 + tile, height)
            tiles.append(
                Tile(
                    x0,
                    y0,
                    x1,
                    y1,
                    max(x0 - pad, 0),
                    max(y0 - pad, 0),
                    min(x1 + pad, width),
                    min(y1 + pad, height),
                )
            )
    return tiles


def pre_pad(image: np.ndarray, amount: int) -> np.ndarray:
    """Reflect-pad right and bottom (Real-ESRGAN's pre_pad): fewer artifacts at the border."""
    if amount <= 0:
        return image
    amount_y, amount_x = min(amount, image.shape[0] - 1), min(amount, image.shape[1] - 1)
    return np.pad(image, ((0, amount_y), (0, amount_x), (0, 0)), mode="reflect")


def reduce(image: np.ndarray, factor: int) -> np.ndarray:
    """HxWxC uint8 whose sides are multiples of `factor` -> each factor x factor block's
    mean, rounded (a box filter: for an integer factor what area resampling computes)."""
    height, width, channels = image.shape
    blocks = image.reshape(height // factor, factor, width // factor, factor, channels)
    total = blocks.sum(axis=(1, 3), dtype=np.uint32)
    return ((total + factor * factor // 2) // (factor * factor)).astype(np.uint8)

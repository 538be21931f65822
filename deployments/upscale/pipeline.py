"""One upscale job: tile, infer, stitch, resize to the requested output, reporting progress.

`infer` runs one tile through the network; in the Serve deployment it goes through the
replica's Batcher, so tiles of concurrent jobs can share a batch. Each job keeps at most
`window` tiles in flight, which bounds its memory and lets concurrent jobs interleave instead
of queueing behind one big image.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from deployments.upscale import tiling
from serve_app.core.scaling import stitch_factor

InferFn = Callable[[np.ndarray], Awaitable[np.ndarray]]


@dataclass(frozen=True)
class TileSettings:
    tile: int = 256
    tile_pad: int = 10
    pre_pad: int = 0
    window: int = 2


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    resized = Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized)


async def run_tiles(
    image: np.ndarray, scale: int, infer: InferFn, settings: TileSettings, keep: int = 0
) -> AsyncIterator[float | np.ndarray]:
    """Yields the fraction of tiles done after each tile but the last, then the stitched
    image: x`scale`, or x`keep` (a divisor of `scale`) with each tile reduced as it arrives,
    so a restoration at the input's size never holds the x4 image (tiling.Tile.paste)."""
    keep = keep or scale
    height, width = image.shape[:2]
    padded = tiling.pre_pad(image, settings.pre_pad)
    tiles = tiling.grid(padded.shape[1], padded.shape[0], settings.tile, settings.tile_pad)
    if len(tiles) == 1:  # the network's output is the image: no canvas to fill and copy
        owned = tiles[0].owned(await infer(padded), scale, keep)
        yield owned[: height * keep, : width * keep]
        return
    out = np.empty((padded.shape[0] * keep, padded.shape[1] * keep, 3), np.uint8)
    queue = iter(tiles)
    in_flight: dict[asyncio.Task, tiling.Tile] = {}
    done = 0
    try:
        while done < len(tiles):
            while len(in_flight) < max(1, settings.window):
                tile = next(queue, None)
                if tile is None:
                    break
                in_flight[asyncio.ensure_future(infer(tile.crop(padded)))] = tile
            finished, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                in_flight.pop(task).paste(out, task.result(), scale, keep)
                done += 1
                if done < len(tiles):  # the image itself says the last one is done
                    yield done / len(tiles)
    finally:
        for task in in_flight:
            task.cancel()
    yield out[: height * keep, : width * keep]


async def upscale(
    image: np.ndarray,
    scale: int,
    out_size: tuple[int, int],
    infer: InferFn,
    settings: TileSettings,
) -> AsyncIterator[dict]:
    """Events: {"progress": 0..1} per tile but the last, then {"image": HxWx3 uint8 of
    out_size}."""
    keep = stitch_factor(image.shape[1], image.shape[0], scale, out_size)
    async for item in run_tiles(image, scale, infer, settings, keep):
        if isinstance(item, float):
            yield {"progress": item}
        else:
            if item.shape[1::-1] != out_size:  # checked here: no thread hop for nothing
                item = await asyncio.to_thread(resize, item, *out_size)
            yield {"image": item}

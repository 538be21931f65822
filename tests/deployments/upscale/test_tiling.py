"""Tiled inference stitches without visible seams, and the grid covers every pixel once."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest

from deployments.common.device import plan
from deployments.upscale import tiling
from deployments.upscale.pipeline import TileSettings, run_tiles, upscale
from deployments.upscale.sr_network import SRNetwork
from loadtest.photos import photo, psnr


@pytest.fixture(scope="module")
def network(weights_dir):
    return SRNetwork.load(weights_dir / "realesr-animevideov3.safetensors", plan(2, 0, False))


def infer_with(network):
    async def infer(tile):
        return network.run([tile])[0]

    return infer


async def collect(agen):
    return [item async for item in agen]


@pytest.mark.parametrize(
    ("width", "height", "tile", "pad"), [(100, 70, 32, 4), (64, 64, 64, 10), (65, 33, 16, 0)]
)
def test_grid_owns_every_pixel_exactly_once(width, height, tile, pad):
    owned = np.zeros((height, width), np.int32)
    for t in tiling.grid(width, height, tile, pad):
        owned[t.y0 : t.y1, t.x0 : t.x1] += 1
        assert 0 <= t.px0 <= t.x0 < t.x1 <= t.px1 <= width
        assert 0 <= t.py0 <= t.y0 < t.y1 <= t.py1 <= height
    assert (owned == 1).all()


def test_tile_zero_means_whole_image():
    assert tiling.grid(10, 20, 0, 5) == [tiling.Tile(0, 0, 10, 20, 0, 0, 10, 20)]


def test_pre_pad_reflects_right_and_bottom():
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    padded = tiling.pre_pad(image, 2)
    assert padded.shape == (6, 7, 3)
    assert (padded[:4, :5] == image).all()
    assert (padded[4, :5] == image[2]).all()
    assert (padded[:4, 5] == image[:, 3]).all()


async def test_tiled_output_matches_whole_image_run(network):
    image = photo("coffee")[100:196, 200:328]  # 96 x 128, a real photo
    whole = network.run([np.ascontiguousarray(image)])[0]
    items = await collect(
        run_tiles(image, 4, infer_with(network), TileSettings(tile=48, tile_pad=10))
    )
    tiled = items[-1]
    progress = items[:-1]
    assert tiled.shape == whole.shape == (96 * 4, 128 * 4, 3)
    assert psnr(tiled, whole) >= 45.0
    assert progress == pytest.approx([(i + 1) / 6 for i in range(5)])  # then the image


def seam_band(image: np.ndarray, boundaries=(192, 384), width: int = 8) -> np.ndarray:
    mask = np.zeros(image.shape[:2], bool)
    for b in boundaries:
        mask[:, max(0, b - width) : b + width] = True
        mask[max(0, b - width) : b + width, :] = True
    return image[mask]


@pytest.mark.parametrize(("pad", "seams_hidden"), [(0, False), (10, True)])
async def test_tile_pad_is_what_hides_the_seams(network, pad, seams_hidden):
    """Measured on the pixels next to tile boundaries only, where a seam would be."""
    image = photo("coffee")[100:196, 200:328]
    whole = network.run([np.ascontiguousarray(image)])[0]
    settings = TileSettings(tile=48, tile_pad=pad)
    tiled = (await collect(run_tiles(image, 4, infer_with(network), settings)))[-1]
    assert bool(psnr(seam_band(tiled), seam_band(whole)) >= 45.0) == seams_hidden


async def test_upscale_resizes_to_the_requested_output(network):
    image = photo("astronaut", 64)
    events = await collect(
        upscale(image, 4, (100, 100), infer_with(network), TileSettings(tile=32))
    )
    assert [e["progress"] for e in events[:-1]] == [0.25, 0.5, 0.75]
    assert events[-1]["image"].shape == (100, 100, 3)


@pytest.mark.parametrize("pre_pad", [0, 3])
async def test_one_tile_is_the_network_output_itself(network, pre_pad):
    image = photo("coffee")[100:164, 200:280]  # 64 x 80: one tile
    padded = np.ascontiguousarray(tiling.pre_pad(image, pre_pad))
    whole = network.run([padded])[0][: 64 * 4, : 80 * 4]
    events = await collect(
        upscale(image, 4, (320, 256), infer_with(network), TileSettings(tile=96, pre_pad=pre_pad))
    )
    assert len(events) == 1  # no progress event: the image says it is done
    assert np.array_equal(events[0]["image"], whole)
    small = await collect(upscale(image, 4, (80, 64), infer_with(network), TileSettings(tile=96)))
    x4 = network.run([np.ascontiguousarray(image)])[0]
    assert np.array_equal(small[0]["image"], tiling.reduce(x4, 4))


@pytest.mark.parametrize("keep", [1, 2])
async def test_a_smaller_output_is_stitched_small_and_equals_the_reduced_x4(network, keep):
    """x1 and x2 from the x4 network: each tile is reduced as it arrives (odd tile edges,
    pre-pad and all), and the result is the whole x4 image reduced by area, pixel for pixel."""
    from serve_app.core.scaling import stitch_factor

    image = photo("coffee")[100:197, 200:331]  # 97 x 131: tiles of uneven sizes
    settings = TileSettings(tile=40, tile_pad=6, pre_pad=3)
    full = (await collect(run_tiles(image, 4, infer_with(network), settings)))[-1]
    small = (await collect(run_tiles(image, 4, infer_with(network), settings, keep)))[-1]
    assert small.shape == (97 * keep, 131 * keep, 3)
    assert np.array_equal(small, tiling.reduce(full, 4 // keep))
    expected = cv2.resize(full, (131 * keep, 97 * keep), interpolation=cv2.INTER_AREA)
    assert np.abs(small.astype(int) - expected).max() <= 1  # OpenCV's area resampling
    assert stitch_factor(131, 97, 4, (131 * keep, 97 * keep)) == keep
    assert stitch_factor(131, 97, 4, (131 * 3, 97 * 3)) == 4  # not a divisor: x4, then Lanczos


async def test_window_bounds_tiles_in_flight(network):
    in_flight, peak = 0, 0

    async def infer(tile):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return np.zeros((tile.shape[0] * 4, tile.shape[1] * 4, 3), np.uint8)

    image = photo("astronaut", 64)
    await collect(run_tiles(image, 4, infer, TileSettings(tile=16, tile_pad=2, window=3)))
    assert peak == 3

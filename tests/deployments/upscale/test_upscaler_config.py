"""The Upscaler's user_config: parsed, validated, and the pixel counting for batches."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from deployments.upscale.upscaler import (
    PIXEL_BATCHING,
    TileRequest,
    UpscalerConfig,
    tile_pixels,
)
from serve_app.core.settings import CONFIGS


def test_defaults_parse():
    config = UpscalerConfig.parse({})
    assert config.backend == "auto" and config.tiles.tile == 256
    assert config.batching == PIXEL_BATCHING


@pytest.mark.parametrize("profile", ["serve.cpu.yaml", "serve.yaml"])
def test_shipped_profiles_parse(profile):
    app = yaml.safe_load((CONFIGS / profile).read_text())["applications"][0]
    upscaler = next(d for d in app["deployments"] if d["name"] == "Upscaler")
    config = UpscalerConfig.parse(upscaler["user_config"])
    assert config.batching.max_batch_size >= (config.tiles.tile + 2 * config.tiles.tile_pad) ** 2


def test_batch_must_hold_a_padded_tile():
    with pytest.raises(ValueError, match="one padded tile"):
        UpscalerConfig.parse(
            {"tiles": {"tile": 256, "tile_pad": 10}, "batching": {"max_batch_size": 256 * 256}}
        )


def test_whole_image_tiles_are_refused_in_serve():
    with pytest.raises(ValueError):
        UpscalerConfig.parse({"tiles": {"tile": 0}})


def test_unknown_keys_are_refused():
    with pytest.raises(TypeError):
        UpscalerConfig.parse({"tiles": {"tile_size": 128}})


def test_tile_pixels_counts_pixels_not_requests():
    requests = [
        TileRequest("m", np.zeros((276, 276, 3), np.uint8)),
        TileRequest("m", np.zeros((10, 20, 3), np.uint8)),
    ]
    assert tile_pixels(requests) == 276 * 276 + 200

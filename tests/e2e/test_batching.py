"""Tiles of concurrent jobs share batches in a real Serve replica, and the
batched result equals the same tiles run one by one."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from deployments.common import device
from deployments.upscale import networks
from deployments.upscale.pipeline import TileSettings, upscale
from loadtest.photos import photo, psnr
from serve_app.core.catalog import Catalog
from serve_app.core.settings import CONFIGS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TILES = {"tile": 64, "tile_pad": 8, "pre_pad": 0, "window": 4}
CONFIG = {
    "backend": "torch",  # stacks tiles into one tensor: the GPU path, run here on CPU
    "tiles": TILES,
    "batching": {
        "max_batch_size": 8 * 80 * 80,
        "batch_wait_timeout_s": 0.2,
        "max_concurrent_batches": 1,
    },
}


@pytest.fixture(scope="module")
def batched(handles):
    from ray import serve

    from deployments.upscale.upscaler import Upscaler

    app = Upscaler.options(
        name="BatchedUpscaler", ray_actor_options={"num_cpus": 0}, user_config=CONFIG
    )
    serve.run(app.bind(), name="batchtest", route_prefix=None)
    yield serve.get_deployment_handle("BatchedUpscaler", app_name="batchtest")
    serve.delete("batchtest")


def one_by_one(image: np.ndarray, weights_dir) -> np.ndarray:
    catalog = Catalog.load(CONFIGS / "models.yaml", None, weights_dir)
    net, _ = networks.load(
        catalog.specs["realesr-animevideov3"], weights_dir, device.plan(2, 0, False), "torch"
    )

    async def infer(tile):
        return net.run([tile])[0]

    async def run():
        size = (image.shape[1] * 4, image.shape[0] * 4)
        return [e async for e in upscale(image, 4, size, infer, TileSettings(**TILES))][-1]["image"]

    return asyncio.run(run())


def test_concurrent_jobs_share_batches(batched, weights_dir):
    images = [photo("astronaut", 128), photo("coffee", 128)]

    def call(image):
        stream = batched.options(stream=True).upscale.remote(
            image, "realesr-animevideov3", 512, 512
        )
        return list(stream)[-1]["image"]

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(call, images))
    stats = batched.status.remote().result()["batches"]
    print(f"\nbatches: {stats}")
    assert stats["max_tiles"] > 1 and stats["shared"] > 0
    for image, result in zip(images, results, strict=True):
        assert result.shape == (512, 512, 3)
        assert psnr(result, one_by_one(image, weights_dir)) >= 60.0

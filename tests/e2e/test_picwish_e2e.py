"""PicWish's scale task through real Ray Serve: a sync x1 restoration (the compact network at
x4, each tile reduced back by area in the Upscaler) answered as the image itself."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from loadtest.photos import encode, photo
from serve_app.engine import images

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_picwish_sync_restoration_through_serve(service, key, handles):
    image = photo("chelsea")  # 451 x 300
    files = {"image_file": ("cat.png", encode(image), "image/png")}
    data = {"sync": "1", "scale_factor": "1", "return_type": "3"}
    response = httpx.post(
        f"{service['url']}/api/tasks/visual/scale",
        headers={"X-API-KEY": key},
        files=files,
        data=data,
        timeout=120,
    )
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    result = images.decode(response.content).rgb
    assert result.shape == image.shape
    direct = handles("Upscaler").options(stream=True)
    events = list(direct.upscale.remote(image, "realesr-animevideov3", 451, 300))
    assert np.array_equal(result, events[-1]["image"])  # the Upscaler's x1, unchanged
    assert np.abs(result.astype(int) - image).mean() > 1  # and not the input handed back
    created = httpx.post(
        f"{service['url']}/api/tasks/visual/scale",
        headers={"X-API-KEY": key},
        files=files,
        timeout=60,
    )
    task_id = created.json()["data"]["task_id"]
    polled = httpx.get(
        f"{service['url']}/api/tasks/visual/scale/{task_id}", headers={"X-API-KEY": key}
    )
    assert polled.status_code == 200 and polled.json()["data"]["task_id"] == task_id

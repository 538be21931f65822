"""ProductAI's surface on an app whose generator is the tiny random FLUX.2 [klein] fixture,
image URLs served from loopback (allowed here), and a dispatcher in this process."""

from __future__ import annotations

import pytest
import yaml

from loadtest.photos import encode, photo
from serve_app.billing import accounts
from serve_app.operations._generating import Upscaled
from tests.helpers.backends import LocalGenerateBackend, LocalUpscaleBackend
from tests.helpers.dispatch import dispatching
from tests.helpers.photo_server import serving
from tests.helpers.runtime import make_settings

PHOTOS = {
    "/photo.jpg": encode(photo("coffee", 120)[:90], "JPEG", quality=90),
    "/product1.jpg": encode(photo("chelsea", 96), "JPEG", quality=90),
    "/product2.jpg": encode(photo("astronaut", 80), "JPEG", quality=90),
}


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir, edit_models):
    return make_settings(
        redis_server, tmp_path, weights_dir, user_models_file=edit_models, allow_private_urls=True
    )


@pytest.fixture(scope="module")
def generator(edit_models):
    folder = yaml.safe_load(edit_models.read_text())["models"]["flux2-klein-4b"]["file"]
    return LocalGenerateBackend(folder)


@pytest.fixture(scope="module")
def lora_bytes(edit_models) -> bytes:
    from pathlib import Path

    from tests.helpers.model_fixtures import flux2_klein

    folder = yaml.safe_load(edit_models.read_text())["models"]["flux2-klein-4b"]["file"]
    return flux2_klein.lora(Path(folder))


@pytest.fixture
async def running(rt, generator, weights_dir):
    model = Upscaled(generator, LocalUpscaleBackend(weights_dir))
    async with dispatching(rt, {"generate": model, "edit": model}, "productai-test"):
        yield


@pytest.fixture
def photos():
    with serving(PHOTOS) as base:
        yield base


@pytest.fixture
async def account(rt):
    return await accounts.create(rt, 30, "enterprise")


@pytest.fixture
def headers(account):
    return {"x-api-key": account[1]}

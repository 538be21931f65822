"""PixelForge's own sample clients (Python, Node.js), run unchanged but for the base URL and
the key, against the API over real HTTP with remove-background running behind it
(dispatcher in this process; U²-Net is the random-weight fixture: plumbing, not quality)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.photos import encode, photo
from serve_app.billing import accounts
from serve_app.core.runtime import Runtime
from serve_app.engine import images
from tests.helpers import samples
from tests.helpers.backends import LocalMattingBackend
from tests.helpers.dispatch import dispatching
from tests.helpers.model_fixtures import u2net
from tests.helpers.runtime import make_settings
from tests.helpers.samples import FIXTURES, run

pytestmark = pytest.mark.slow
DOC_BASE = "https://pixelforge.vip/api/v1"
DOC_KEY = "pfk_your_api_key"
PHOTO = photo("chelsea", 160)[:120]


@pytest.fixture(scope="module")
def u2net_weights(tmp_path_factory) -> Path:
    return u2net.build(tmp_path_factory.mktemp("u2net"))


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir, u2net_weights):
    models = tmp_path / "models.yaml"
    models.write_text(f"models:\n  u2net:\n    file: {u2net_weights}\n")
    return make_settings(redis_server, tmp_path, weights_dir, user_models_file=models)


@pytest.fixture
async def running(settings, u2net_weights):
    rt = Runtime.create(settings)
    async with dispatching(rt, {"remove-background": LocalMattingBackend(u2net_weights)}, "pf"):
        yield rt
    await rt.close()


def prepare(tmp_path: Path, sample: str, base: str, key: str) -> Path:
    swaps = {DOC_BASE: base, DOC_KEY: key}
    return samples.prepare(tmp_path, sample, encode(PHOTO, "JPEG", quality=90), swaps)


def assert_cutout(path: Path) -> None:
    result = images.decode(path.read_bytes())
    assert images.sniff(path.read_bytes()) == "png"
    assert result.rgb.shape == PHOTO.shape
    assert result.alpha is not None and result.alpha.shape == PHOTO.shape[:2]


async def test_pixelforge_python_sample(http_server, running, tmp_path):
    _, key = await accounts.create(running, 5, "enterprise")
    folder = prepare(tmp_path, "pixelforge_sample.py", f"{http_server}/api/v1", key)
    await run(folder, sys.executable, "pixelforge_sample.py")
    assert_cutout(folder / "result.png")


def node_with_import() -> bool:
    """Node 18.18+ / 20.6+: fetch, FormData, Blob and `--import` for the preload."""
    if shutil.which("node") is None:
        return False
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    major, minor = (int(part) for part in version.strip().lstrip("v").split(".")[:2])
    return (major, minor) >= (20, 6) or (major == 18 and minor >= 18)


@pytest.mark.skipif(not node_with_import(), reason="needs node 18.18+ or 20.6+")
async def test_pixelforge_node_sample(http_server, running, tmp_path):
    _, key = await accounts.create(running, 5, "enterprise")
    folder = prepare(tmp_path, "pixelforge_sample.mjs", f"{http_server}/api/v1", key)
    shutil.copy(FIXTURES / "pixelforge_env.mjs", folder)
    await run(folder, "node", "--import", "./pixelforge_env.mjs", "pixelforge_sample.mjs")
    assert_cutout(folder / "result.png")

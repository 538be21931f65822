"""PND AI's own sample clients, run unchanged but for the base URL and the key, against the
API over real HTTP, with the real pipeline behind it (dispatcher in this process; GFPGAN is
the random-weight fixture: this checks the plumbing, not the faces)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from loadtest.photos import encode, photo
from serve_app.billing import accounts
from serve_app.core.runtime import Runtime
from serve_app.engine import images
from tests.helpers import samples
from tests.helpers.backends import LocalFaceBackend, LocalUpscaleBackend
from tests.helpers.dispatch import dispatching
from tests.helpers.runtime import make_settings
from tests.helpers.samples import run

pytestmark = pytest.mark.slow
DOC_BASE = "https://pndai.ai/api/"
DOC_KEY = "pndai.ai:YOUR_KEY_FROM_MEMBER_PAGE"


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir, user_models):
    return make_settings(redis_server, tmp_path, weights_dir, user_models_file=user_models)


@pytest.fixture
async def running(settings, weights_dir, gfpgan_fixture):
    rt = Runtime.create(settings)
    upscaler = LocalUpscaleBackend(weights_dir, tile=256)
    backends = {"upscale": upscaler, "restore-face": LocalFaceBackend(gfpgan_fixture, upscaler)}
    async with dispatching(rt, backends, "samples"):
        yield rt
    await rt.close()


def prepare(tmp_path: Path, sample: str, base: str, key: str) -> Path:
    swaps = {DOC_BASE.rstrip("/"): base.rstrip("/"), DOC_KEY: key}
    return samples.prepare(tmp_path, sample, encode(photo("astronaut"), "JPEG", quality=90), swaps)


async def test_pnd_python_sample(http_server, running, tmp_path):
    _, key = await accounts.create(running, 20, "enterprise")
    folder = prepare(tmp_path, "pnd_sample.py", f"{http_server}/api/", key)
    output = await run(folder, sys.executable, "pnd_sample.py")
    assert output.strip().splitlines()[-1] == "done", output
    result = images.decode((folder / "result.jpg").read_bytes())
    assert images.sniff((folder / "result.jpg").read_bytes()) == "jpg"
    assert result.rgb.shape == (2560, 2560, 3)  # size 2K


@pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("curl") is None, reason="needs jq, curl"
)
async def test_pnd_bash_sample(http_server, running, tmp_path):
    """The doc's loop header lost its word list (`for i in ; do`, which never polls); it is
    restored to the 30 polls its comment describes. Nothing else changes."""
    _, key = await accounts.create(running, 20, "enterprise")
    folder = prepare(tmp_path, "pnd_sample.sh", f"{http_server}/api/", key)
    script = folder / "pnd_sample.sh"
    script.write_text(script.read_text().replace("for i in ; do", "for i in $(seq 1 30); do"))
    output = await run(folder, "bash", "pnd_sample.sh")
    assert "] done" in output, output
    assert images.decode((folder / "result.jpg").read_bytes()).rgb.shape == (2560, 2560, 3)

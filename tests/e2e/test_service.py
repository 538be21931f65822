"""End to end through real Ray Serve, started the way a user starts it: `photoserve run`.

One service per session (~15 s to first 200 here). The result of an HTTP job is compared
with a direct call of the Upscaler deployment through its handle.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from serve_app import images
from serve_app.embedded_redis import free_port
from tests.photos import encode, photo

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ADMIN_TOKEN = "e2e-admin-token"
ROOT = Path(__file__).resolve().parents[2]


def ray_processes() -> list[str]:
    out = subprocess.run(["pgrep", "-f", "raylet|gcs_server"], capture_output=True, text=True)
    return out.stdout.split()


@pytest.fixture(scope="session")
def service(tmp_path_factory, weights_dir):
    port = free_port()
    data_dir = tmp_path_factory.mktemp("service")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("PHOTOSERVE_") and k != "REDIS_URL"
    }
    env.update(
        PHOTOSERVE_DATA_DIR=str(data_dir),
        PHOTOSERVE_WEIGHTS_DIR=str(weights_dir),
        PHOTOSERVE_PORT=str(port),
        PHOTOSERVE_ADMIN_TOKEN=ADMIN_TOKEN,
        PYTHONUNBUFFERED="1",
    )
    url = f"http://127.0.0.1:{port}"
    with open(data_dir / "run.log", "w") as log:
        command = [sys.executable, "-m", "serve_app.cli", "run"]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        started = time.monotonic()
        try:
            _wait_healthy(url, process, data_dir)
            print(f"\nservice healthy {time.monotonic() - started:.1f} s after start")
            yield {"url": url, "process": process, "data_dir": data_dir}
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(120)


def _wait_healthy(url, process, data_dir, timeout_s=240):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("photoserve run exited:\n" + (data_dir / "run.log").read_text()[-4000:])
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail("service not healthy in time:\n" + (data_dir / "run.log").read_text()[-4000:])


@pytest.fixture(scope="session")
def customer(service) -> dict:
    response = httpx.post(
        f"{service['url']}/admin/accounts",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={"credits": 100, "plan": "free"},
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="session")
def key(customer) -> str:
    return customer["api_key"]


def cli(service, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PHOTOSERVE_ADMIN_TOKEN": ADMIN_TOKEN}
    command = [sys.executable, "-m", "serve_app.cli", "--url", service["url"], *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def direct_upscale(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The Upscaler deployment's own output, called through a DeploymentHandle."""
    import ray
    from ray import serve

    ray.init(address="auto", namespace="serve", log_to_driver=False)
    try:
        handle = serve.get_deployment_handle("Upscaler", app_name="photoserve")
        stream = handle.options(stream=True).upscale.remote(
            image, "realesr-animevideov3", width, height
        )
        events = list(stream)
    finally:
        ray.shutdown()
    return events[-1]["image"]


def test_fast_x4_of_a_real_photo_end_to_end(service, key):
    url, headers = service["url"], {"Authorization": f"Bearer {key}"}
    image = photo("astronaut", 128)
    started = time.monotonic()
    files = {"image": ("a.png", encode(image))}
    data = {"scale": "4", "model": "fast"}
    response = httpx.post(f"{url}/v1/upscale", headers=headers, files=files, data=data)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    seen_progress = set()
    while True:
        body = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers).json()
        seen_progress.add(body["progress"])
        if body["status"] in ("done", "failed"):
            break
        assert time.monotonic() - started < 120
        time.sleep(0.05)
    print(f"\n128x128 fast x4: {time.monotonic() - started:.2f} s submit to done (client side)")
    assert body["status"] == "done", body
    assert (body["width"], body["height"]) == (512, 512)
    download = httpx.get(body["result_url"], headers={"x-api-key": key})
    assert download.status_code == 200 and download.headers["content-type"] == "image/png"
    result = images.decode(download.content).rgb
    assert result.shape == (512, 512, 3)
    assert np.array_equal(result, direct_upscale(image, 512, 512))


def test_models_report_loaded_weights(service):
    models = httpx.get(f"{service['url']}/v1/models").json()["models"]
    assert {m["alias"]: m["loaded"] for m in models} == {
        "fast": True,
        "quality": True,
        "anime": True,
    }


def test_bad_input_through_serve_is_an_envelope_not_a_500(service, key):
    response = httpx.post(
        f"{service['url']}/v1/upscale",
        headers={"x-key": key},
        content=b"{oops",
        timeout=10,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"


def test_cli_creates_an_account_through_the_admin_api(service):
    out = cli(service, "accounts", "create", "--credits", "7", "--plan", "enterprise")
    assert out.returncode == 0, out.stderr
    key = json.loads(out.stdout)["api_key"]
    response = httpx.get(f"{service['url']}/v1/credits", headers={"x-api-key": key})
    assert response.json()["credits"]["total"] == 7
    assert response.headers["x-ratelimit-limit"] == "600"  # enterprise credits class


def test_cli_audit_is_clean_after_a_job(service, customer):
    test_fast_x4_of_a_real_photo_end_to_end(service, customer["api_key"])
    out = cli(service, "credits", "audit", customer["account_id"])
    assert out.returncode == 0 and "ledger audit: clean" in out.stdout, out.stdout + out.stderr
    ledger = json.loads(cli(service, "credits", "ledger", customer["account_id"]).stdout)
    assert [e["type"] for e in ledger["entries"]][:2] == ["capture", "reserve"]


def test_sigterm_stops_everything_it_started(service, key):
    """Last in this module: stops the session's service."""
    process = service["process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(120) == 0
    time.sleep(1)
    assert ray_processes() == []
    redis_pid_dir = service["data_dir"] / "redis"
    assert (redis_pid_dir / "appendonlydir").exists() or list(redis_pid_dir.glob("*.aof"))

"""The real service for the e2e tests, started the way a user starts it: `photoserve run`
(embedded Redis, Ray, Serve), once per session (~15 s to ready here)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

from loadtest.photos import encode
from loadtest.service import LocalService, ServiceFailed

ADMIN_TOKEN = "e2e-admin-token"


def ray_processes() -> list[str]:
    out = subprocess.run(["pgrep", "-f", "raylet|gcs_server"], capture_output=True, text=True)
    return out.stdout.split()


@pytest.fixture(scope="session")
def service(tmp_path_factory, weights_dir, edit_models):
    env = {
        "PHOTOSERVE_WEIGHTS_DIR": str(weights_dir),
        # GFPGAN and the editing models: random-weight fixtures of the real architectures
        # (plumbing only)
        "PHOTOSERVE_MODELS": str(edit_models),
        # fault tests: a dead dispatcher's entries are claimed again after 5 s
        "PHOTOSERVE_CLAIM_IDLE_S": "5",
        "PHOTOSERVE_RECLAIM_INTERVAL_S": "1",
        # shutdown test: a job still running 3 s after SIGTERM is handed back to the queue
        "PHOTOSERVE_SHUTDOWN_GRACE_S": "3",
    }
    running = LocalService(tmp_path_factory.mktemp("service"), ADMIN_TOKEN, env)
    try:
        running.start()
    except ServiceFailed as exc:
        pytest.fail(str(exc))
    print(f"\nservice ready {running.startup_s:.1f} s after start")
    try:
        yield {"url": running.url, "process": running.process, "data_dir": running.data_dir}
    finally:
        running.stop()


@pytest.fixture(scope="session")
def customer(service) -> dict:
    response = httpx.post(
        f"{service['url']}/admin/accounts",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={"credits": 100, "plan": "enterprise"},
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="session")
def key(customer) -> str:
    return customer["api_key"]


def cli(service, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PHOTOSERVE_ADMIN_TOKEN": ADMIN_TOKEN}
    command = [sys.executable, "-m", "serve_app.process.cli", "--url", service["url"], *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="session")
def handles(service):
    """DeploymentHandles into the running application, from this test process."""
    import ray
    from ray import serve

    ray.init(address="auto", namespace="serve", log_to_driver=False)
    yield lambda name: serve.get_deployment_handle(name, app_name="photoserve")
    ray.shutdown()


def submit(service, key: str, image: np.ndarray, **data) -> str:
    files = {"image": ("a.png", encode(image))}
    response = httpx.post(
        f"{service['url']}/v1/upscale", headers={"x-key": key}, files=files, data=data, timeout=30
    )
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def poll(service, key: str, job_id: str, until=("done", "failed"), timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(f"{service['url']}/v1/jobs/{job_id}", headers={"x-key": key})
        if response.status_code == 429:  # as a client should: wait as told
            time.sleep(int(response.headers["retry-after"]))
            continue
        body = response.json()
        if body["status"] in until:
            return body
        assert time.monotonic() < deadline, f"job {job_id} still {body['status']}"
        time.sleep(0.1)

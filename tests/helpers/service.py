"""Talking to the real service the e2e tests start: its admin CLI, a submit, a poll that
waits as a client should, and the Ray processes it leaves (or not)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import numpy as np

from loadtest.photos import encode

E2E_ADMIN_TOKEN = "e2e-admin-token-of-enough-length"


def cli(service, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PHOTOSERVE_ADMIN_TOKEN": E2E_ADMIN_TOKEN}
    command = [sys.executable, "-m", "serve_app.process.cli", "--url", service["url"], *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def submit(service, key: str, image: np.ndarray, operation: str = "upscale", **data) -> str:
    files = {"image": ("a.png", encode(image))}
    url = f"{service['url']}/v1/{operation}"
    response = httpx.post(url, headers={"x-key": key}, files=files, data=data, timeout=30)
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

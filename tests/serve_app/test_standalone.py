"""The FastAPI app runs on its own under uvicorn (no Serve, no dispatching), on the same
Redis as everything else: the side of the gateway benchmark's comparison."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from serve_app.billing import accounts
from serve_app.engine import jobs
from serve_app.engine.jobs import NewJob
from serve_app.process.embedded_redis import free_port


async def test_plain_uvicorn_serves_the_same_data(rt, settings):
    account_id, key = await accounts.create(rt, 5, "enterprise")
    job = NewJob(account_id, "upscale", 1, {"out_width": 8, "out_height": 8}, "inputs/x.png", 4, 4)
    await jobs.submit(rt, job, 0, "x2")
    port = free_port()
    env = {
        **os.environ,
        "PHOTOSERVE_REDIS_URL": settings.redis_url,
        "PHOTOSERVE_REDIS_PREFIX": settings.redis_prefix,
        "PHOTOSERVE_KEY_SECRET": settings.key_secret,
        "PHOTOSERVE_URL_SECRET": settings.url_secret,
        "PHOTOSERVE_ADMIN_TOKEN": settings.admin_token,
        "PHOTOSERVE_DATA_DIR": str(settings.data_dir),
    }
    command = [sys.executable, "-m", "uvicorn", "serve_app.ingress:app", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(f"{url}/readyz")
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert ready.json() == {"ok": True, "redis": "ok", "waiting_for": []}
        body = httpx.get(f"{url}/v1/jobs/{job.job_id}", headers={"x-key": key}).json()
        assert body["status"] == "queued" and body["polling_interval"] >= 1
    finally:
        process.terminate()
        process.wait(10)


def test_plain_uvicorn_refuses_weak_secrets_and_names_them(settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSERVE_")}
    env.update(
        PHOTOSERVE_REDIS_URL=settings.redis_url,
        PHOTOSERVE_KEY_SECRET="change-me",
        PHOTOSERVE_URL_SECRET="short",
        PHOTOSERVE_DATA_DIR=str(settings.data_dir),
    )
    command = [sys.executable, "-m", "uvicorn", "serve_app.ingress:app", "--port", str(free_port())]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "PHOTOSERVE_KEY_SECRET is a well-known default value" in done.stderr
    assert "PHOTOSERVE_URL_SECRET is 5 characters; at least 32" in done.stderr
    assert "PHOTOSERVE_ADMIN_TOKEN is not set" in done.stderr

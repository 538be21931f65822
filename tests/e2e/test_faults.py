"""Crash safety with real processes and real signals, on the running service:
the model replica's process is SIGKILLed mid-job, then the dispatcher's."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from loadtest.photos import photo
from tests.helpers.service import E2E_ADMIN_TOKEN, poll, submit

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ADMIN = {"Authorization": f"Bearer {E2E_ADMIN_TOKEN}"}


@pytest.fixture
def account(service) -> dict:
    response = httpx.post(
        f"{service['url']}/admin/accounts",
        headers=ADMIN,
        json={"credits": 50, "plan": "enterprise"},
    )
    return response.json()


def pid_of(handles, deployment: str) -> int:
    return handles(deployment).status.remote().result(timeout_s=60)["pid"]


def audit(service, account_id: str) -> dict:
    url = f"{service['url']}/admin/accounts/{account_id}/audit"
    return httpx.get(url, headers=ADMIN, timeout=30).json()


def test_killing_the_model_replica_mid_job_does_not_lose_the_job(service, account, handles):
    key = account["api_key"]
    # the quality network on 128 px: several seconds of work, enough to kill in the middle
    job_id = submit(service, key, photo("astronaut", 128), model="quality", scale="4")
    poll(service, key, job_id, until=("processing",), timeout_s=60)
    victim = pid_of(handles, "Upscaler")
    time.sleep(0.5)
    os.kill(victim, signal.SIGKILL)
    started = time.monotonic()
    body = poll(service, key, job_id)
    print(
        f"\nUpscaler pid {victim} killed; job {body['status']} "
        f"{time.monotonic() - started:.1f} s later"
    )
    assert body["status"] == "done", body
    assert (body["width"], body["height"]) == (512, 512)
    assert pid_of(handles, "Upscaler") != victim  # Serve replaced the replica
    result = audit(service, account["account_id"])
    assert result["ok"] and result["totals"]["capture"] == 2, result


def test_killing_the_dispatcher_leaves_its_jobs_to_the_next_one(service, account, handles):
    key = account["api_key"]
    job_ids = [
        submit(service, key, photo("coffee", 96), model="quality", scale="2") for _ in range(3)
    ]
    poll(service, key, job_ids[0], until=("processing",), timeout_s=60)
    victim = pid_of(handles, "Dispatcher")
    os.kill(victim, signal.SIGKILL)
    started = time.monotonic()
    finals = [poll(service, key, job_id) for job_id in job_ids]
    print(
        f"\nDispatcher pid {victim} killed; all {len(finals)} jobs finished "
        f"{time.monotonic() - started:.1f} s later"
    )
    assert [b["status"] for b in finals] == ["done"] * 3
    assert pid_of(handles, "Dispatcher") != victim
    result = audit(service, account["account_id"])
    assert result["ok"] and result["totals"]["capture"] == 3, result

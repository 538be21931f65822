"""Queue-depth autoscaling with the laptop profile: a burst of erase jobs waits in Redis, the
dispatcher keeps its slots' worth in flight at the Eraser, Serve's autoscaler sees them as
ongoing requests and adds a second replica (configs/serve.cpu.yaml: min 1, max 2, target 1),
and takes it away again once the queue is empty."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from loadtest.photos import encode, photo
from tests.helpers.service import poll

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BURST = 12


def eraser_replicas() -> int:
    from ray import serve

    app = serve.status().applications["photoserve"]
    states = app.deployments["Eraser"].replica_states
    return int(states.get("RUNNING", 0))


def wait_until(predicate, timeout_s: float, interval_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return False


def test_a_burst_scales_the_eraser_to_two_replicas_and_back(service, key, handles):
    handles("Eraser")  # connects this process to the cluster for serve.status()
    assert wait_until(lambda: eraser_replicas() == 1, 60), "not at its minimum before the burst"
    image = photo("astronaut", 256)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[60:200, 60:200] = 255
    files = {"image": ("a.png", encode(image)), "mask": ("m.png", encode(mask))}
    job_ids = []
    for _ in range(BURST):
        response = httpx.post(
            f"{service['url']}/v1/erase-object", headers={"x-key": key}, files=files, timeout=30
        )
        assert response.status_code == 202, response.text
        job_ids.append(response.json()["job_id"])
    assert wait_until(lambda: eraser_replicas() == 2, 90), "the burst did not add a replica"
    for job_id in job_ids:
        assert poll(service, key, job_id, timeout_s=300)["status"] == "done"
    assert wait_until(lambda: eraser_replicas() == 1, 90), "the extra replica stayed"

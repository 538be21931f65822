"""The real service for the e2e tests, started the way a user starts it: `photoserve run`
(embedded Redis, Ray, Serve), once per session (~15 s to ready here)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from loadtest.service import ROOT, LocalService, ServiceFailed
from serve_app.core.settings import CONFIGS
from tests.helpers import toy_operation
from tests.helpers.service import E2E_ADMIN_TOKEN


def pytest_collection_modifyitems(config, items):
    """The test that stops the session's service runs after every other test."""
    last = [item for item in items if item.get_closest_marker("stops_service")]
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture(scope="session")
def toy_plans(tmp_path_factory) -> Path:
    """configs/plans.yaml plus the toy operation's price (tests/helpers/toy_operation.py)."""
    plans = yaml.safe_load((CONFIGS / "plans.yaml").read_text())
    plans["costs"][toy_operation.OPERATION.name] = toy_operation.PRICE
    path = tmp_path_factory.mktemp("plans") / "plans.yaml"
    path.write_text(yaml.safe_dump(plans))
    return path


@pytest.fixture(scope="session")
def service(tmp_path_factory, weights_dir, edit_models, toy_plans):
    env = {
        # an operation from outside the project's packages, priced by the plans file
        "PHOTOSERVE_EXTRA_OPERATIONS": toy_operation.__name__,
        "PHOTOSERVE_PLANS_FILE": str(toy_plans),
        "PYTHONPATH": str(ROOT),
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
    running = LocalService(tmp_path_factory.mktemp("service"), E2E_ADMIN_TOKEN, env)
    try:
        running.start()
    except ServiceFailed as exc:
        pytest.fail(str(exc))
    print(f"\nservice ready {running.startup_s:.1f} s after start")
    try:
        yield {"url": running.url, "running": running, "data_dir": running.data_dir}
    finally:
        running.stop()


@pytest.fixture(scope="session")
def customer(service) -> dict:
    response = httpx.post(
        f"{service['url']}/admin/accounts",
        headers={"Authorization": f"Bearer {E2E_ADMIN_TOKEN}"},
        json={"credits": 100, "plan": "enterprise"},
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="session")
def key(customer) -> str:
    return customer["api_key"]


@pytest.fixture(scope="session")
def handles(service):
    """DeploymentHandles into the running application, from this test process."""
    service["running"].connect()
    yield service["running"].handle
    service["running"].disconnect()

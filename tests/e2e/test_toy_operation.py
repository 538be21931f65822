"""An operation added without editing a file of the project (tests/helpers/toy_operation.py,
loaded by the session's service): it gets its route, its price check, its docs entry, its
readiness and a finished job, through real Ray Serve."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from loadtest.photos import encode, photo
from serve_app.engine import images
from tests.helpers import toy_operation
from tests.helpers.http import assert_error
from tests.helpers.service import E2E_ADMIN_TOKEN, poll

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PHOTO = photo("astronaut", 48)


def account(service, credits: int) -> str:
    response = httpx.post(
        f"{service['url']}/admin/accounts",
        headers={"Authorization": f"Bearer {E2E_ADMIN_TOKEN}"},
        json={"credits": credits, "plan": "enterprise"},
    )
    return response.json()["api_key"]


def submit(service, key: str, **data) -> httpx.Response:
    files = {"image": ("a.png", encode(PHOTO))}
    return httpx.post(
        f"{service['url']}/v1/invert", headers={"x-key": key}, files=files, data=data, timeout=30
    )


def test_its_docs_entry_and_readiness(service):
    spec = httpx.get(f"{service['url']}/openapi.json").json()
    route = spec["paths"]["/v1/invert"]["post"]
    assert route["summary"] == toy_operation.OPERATION.summary
    form = route["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"image", "keep_red", "output_format", "quality"} <= set(form)
    ready = httpx.get(f"{service['url']}/readyz").json()
    assert ready["ok"] is True and ready["operations"]["invert"] == "ready"


def test_its_price_is_checked_before_anything_is_stored(service):
    poor = account(service, 2)  # the toy costs 3
    body = assert_error(submit(service, poor), 402, "out_of_credits")
    assert (body["cost"], body["remaining"]) == (toy_operation.PRICE, 2)
    assert_error(submit(service, poor, output_format="gif"), 400, "invalid_parameter")


def test_a_job_runs_to_its_result(service):
    key = account(service, 10)
    response = submit(service, key, keep_red="true")
    assert response.status_code == 202, response.text
    assert (response.json()["cost"], response.json()["remaining"]) == (3, 7)
    done = poll(service, key, response.json()["job_id"])
    assert done["status"] == "done", done
    assert done["operation"] == "invert" and done["params"]["keep_red"] is True
    result = images.decode(httpx.get(done["result_url"]).content).rgb
    expected = 255 - PHOTO
    expected[..., 0] = PHOTO[..., 0]
    np.testing.assert_array_equal(result, expected)

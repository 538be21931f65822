"""The job lifecycle through the API: submit, poll, download; scoping and not-ready errors."""

from __future__ import annotations

import numpy as np
import pytest

from loadtest.photos import photo, photo_bytes
from serve_app.billing import accounts
from serve_app.engine import images
from serve_app.engine.dispatcher import Dispatcher
from tests.helpers.backends import LocalUpscaleBackend
from tests.helpers.dispatch import lanes
from tests.helpers.http import assert_error
from tests.helpers.runtime import wait_for


@pytest.fixture
async def dispatcher(rt, weights_dir):
    running = Dispatcher(rt, lanes({"upscale": LocalUpscaleBackend(weights_dir)}), "api-test")
    await running.start()
    yield running
    await running.stop()


async def submit(client, auth, **data):
    response = await client.post(
        "/v1/upscale",
        headers=auth,
        files={"image": ("a.jpg", photo_bytes("chelsea", size=None, fmt="JPEG"))},
        data=data,
    )
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


async def poll_until_finished(client, auth, job_id):
    async def check():
        body = (await client.get(f"/v1/jobs/{job_id}", headers=auth)).json()
        return body if body["status"] in ("done", "failed") else None

    return await wait_for(check, timeout_s=60)


async def test_full_lifecycle(client, auth, dispatcher):
    job_id = await submit(client, auth, size="HD", output_format="webp")
    queued = (await client.get(f"/v1/jobs/{job_id}", headers=auth)).json()
    assert queued["status"] in ("queued", "processing", "done")
    assert queued["operation"] == "upscale" and queued["created_at"].endswith("Z")
    done = await poll_until_finished(client, auth, job_id)
    assert done["status"] == "done" and done["progress"] == 100
    assert (done["width"], done["height"]) == (1280, 851)
    assert done["result_url"].startswith(f"http://testserver/v1/jobs/{job_id}/download?exp=")
    assert done["started_at"] and done["completed_at"] and "error" not in done

    response = await client.get(f"/v1/jobs/{job_id}/download", headers=auth)
    assert response.status_code == 200 and response.headers["content-type"] == "image/webp"
    assert "attachment" not in response.headers.get("content-disposition", "")
    assert images.decode(response.content).rgb.shape == (851, 1280, 3)
    attached = await client.get(f"/v1/jobs/{job_id}/download?download=true", headers=auth)
    assert attached.headers["content-disposition"].startswith("attachment")
    assert f"{job_id}.webp" in attached.headers["content-disposition"]

    credits = (await client.get("/v1/credits", headers=auth)).json()
    assert (credits["credits"]["total"], credits["held"]) == (99, 0)


async def test_not_ready_before_done(client, auth):
    job_id = await submit(client, auth)
    response = await client.get(f"/v1/jobs/{job_id}/download", headers=auth)
    assert_error(response, 425, "not_ready")
    body = (await client.get(f"/v1/jobs/{job_id}", headers=auth)).json()
    assert body["status"] == "queued" and body["progress"] == 0 and "result_url" not in body


async def test_failed_job_reports_its_error(client, auth, rt, dispatcher):
    data = photo_bytes("coffee", size=128, fmt="JPEG")
    response = await client.post(
        "/v1/upscale", headers=auth, files={"image": ("a.jpg", data[: len(data) // 2])}
    )
    job_id = response.json()["job_id"]
    failed = await poll_until_finished(client, auth, job_id)
    assert failed["error"]["code"] == "corrupt_image" and "result_url" not in failed
    assert_error(await client.get(f"/v1/jobs/{job_id}/download", headers=auth), 409, "job_failed")
    assert (await client.get("/v1/credits", headers=auth)).json()["credits"]["total"] == 100


async def test_another_accounts_job_is_403_and_unknown_is_404(client, auth, rt):
    job_id = await submit(client, auth)
    _, other_key = await accounts.create(rt, 5, "enterprise")
    other = {"x-api-key": other_key}
    body = assert_error(await client.get(f"/v1/jobs/{job_id}", headers=other), 403, "not_your_job")
    assert set(body) == {"ok", "error", "detail"}  # nothing about the job leaks
    assert_error(
        await client.get(f"/v1/jobs/{job_id}/download", headers=other), 403, "not_your_job"
    )
    assert_error(
        await client.get("/v1/jobs/job_000000000000000000000000", headers=auth),
        404,
        "job_not_found",
    )
    assert_error(await client.get("/v1/jobs/bad%20id!", headers=auth), 400, "invalid_job_id")


async def test_result_equals_the_network_output(client, auth, rt, dispatcher, weights_dir):
    image = photo("astronaut", 48)
    from loadtest.photos import encode

    response = await client.post(
        "/v1/upscale", headers=auth, files={"image": ("a.png", encode(image))}, data={"scale": 4}
    )
    job_id = response.json()["job_id"]
    await poll_until_finished(client, auth, job_id)
    result = images.decode(
        (await client.get(f"/v1/jobs/{job_id}/download", headers=auth)).content
    ).rgb
    backend = LocalUpscaleBackend(weights_dir)
    direct = [e async for e in backend.stream(image, {"out_width": 192, "out_height": 192})][-1][
        "image"
    ]
    assert np.array_equal(result, direct)

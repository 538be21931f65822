"""`from_job`: a finished job's result is the next job's input, with no upload; only the
same account's, only once it is done."""

from __future__ import annotations

import pytest

from loadtest.photos import encode, photo
from serve_app.billing import accounts
from serve_app.engine import images, jobs
from tests.helpers.backends import FailingBackend, LocalUpscaleBackend
from tests.helpers.dispatch import dispatching
from tests.helpers.http import assert_error
from tests.helpers.runtime import wait_for

SMALL = encode(photo("chelsea")[:43, :64], "PNG")  # 64 x 43


async def finished(client, auth, job_id) -> dict:
    async def check():
        body = (await client.get(f"/v1/jobs/{job_id}", headers=auth)).json()
        return body if body["status"] in ("done", "failed") else None

    return await wait_for(check, timeout_s=60)


async def upscale(client, auth, **fields):
    files = {"image": ("a.png", SMALL)} if "from_job" not in fields else None
    json = None if files else fields
    data = fields if files else None
    return await client.post("/v1/upscale", headers=auth, files=files, data=data, json=json)


async def test_a_result_is_the_next_input(client, auth, rt, weights_dir):
    async with dispatching(rt, {"upscale": LocalUpscaleBackend(weights_dir)}, "from-job"):
        first = (await upscale(client, auth, scale="2")).json()["job_id"]
        assert (await finished(client, auth, first))["status"] == "done"
        second = await upscale(client, auth, from_job=first, scale="2")  # JSON, no image
        assert second.status_code == 202, second.text
        done = await finished(client, auth, second.json()["job_id"])
        form = await client.post(
            "/v1/upscale?from_job=" + first, headers=auth, data={"scale": "4"}
        )  # the query string and a form work too
        assert form.status_code == 202, form.text
    assert done["status"] == "done" and (done["width"], done["height"]) == (256, 172)
    job = await jobs.load(rt, done["job_id"])
    assert (job.input_width, job.input_height) == (128, 86)  # the first job's output
    result = await client.get(f"/v1/jobs/{done['job_id']}/download", headers=auth)
    assert images.decode(result.content).rgb.shape == (172, 256, 3)


async def test_only_a_finished_job_of_the_same_account(client, auth, rt):
    queued = (await upscale(client, auth, scale="2")).json()["job_id"]  # no dispatcher: queued
    assert_error(await upscale(client, auth, from_job=queued), 409, "job_not_finished")
    _, other_key = await accounts.create(rt, 10, "enterprise")
    stranger = {"Authorization": f"Bearer {other_key}"}
    assert_error(await upscale(client, stranger, from_job=queued), 403, "not_your_job")
    assert_error(await upscale(client, auth, from_job="job_nothing"), 404, "job_not_found")
    assert_error(await upscale(client, auth, from_job="no/such!"), 400, "invalid_job_id")
    both = await client.post(
        "/v1/upscale", headers=auth, files={"image": ("a.png", SMALL)}, data={"from_job": queued}
    )
    assert_error(both, 400, "invalid_parameter")


async def test_a_failed_job_has_no_result_to_start_from(client, auth, rt):
    async with dispatching(rt, {"upscale": FailingBackend(RuntimeError("boom"))}, "from-failed"):
        failed = (await upscale(client, auth, scale="2")).json()["job_id"]
        assert (await finished(client, auth, failed))["status"] == "failed"
    assert_error(await upscale(client, auth, from_job=failed), 409, "job_failed")


@pytest.mark.parametrize("route", ["/v1/enhance", "/api/v1/remove-background"])
def test_every_submit_route_documents_from_job(route, rt):
    from serve_app.ingress import create_app

    schema = create_app(rt).openapi()["paths"]
    if route not in schema:  # PixelForge's copies are not in the schema: the native ones are
        route = route.removeprefix("/api")
    body = schema[route]["post"]["requestBody"]["content"]
    for content in body.values():
        assert "from_job" in content["schema"]["properties"]

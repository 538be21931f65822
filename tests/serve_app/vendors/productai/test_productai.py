"""ProductAI's documented flow under /v1/api/ against the real app and Redis, the generator
being the tiny random FLUX.2 [klein] fixture (plumbing, not quality): integer job ids, its
states, its model prices (charged when the job is done, not at the start), its error table in
its envelope, and its 15 requests per minute per IP."""

from __future__ import annotations

import asyncio

import pytest

from serve_app.billing import accounts
from serve_app.engine import images, jobs
from tests.helpers.http import app_client, bundled_only
from tests.helpers.runtime import money

API = "/v1/api"


async def until_finished(client, headers, job_id: int) -> dict:
    for _ in range(600):
        body = (await client.get(f"{API}/job/{job_id}", headers=headers)).json()
        assert body["status"] == "OK", body
        if body["data"]["status"] in ("COMPLETED", "ERROR"):
            return body["data"]
        assert body["data"]["status"] in ("NOT_STARTED", "RUNNING")
        await asyncio.sleep(0.05)
    raise AssertionError("the job did not finish")


def unsigned(body: dict) -> dict:
    """The job without its result URL's signature, which expires from the second it was
    signed: two polls a second apart answer different `exp` and `sig` for the same URL."""
    return {**body, "image_url": body["image_url"].split("?", 1)[0]}


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "ERROR" and body["code"] == code and body["message"], body
    assert set(body) == {"status", "message", "code"}
    return body


async def test_one_photo_edit_at_2k_is_polled_to_completed_and_charged_once(
    client, rt, account, headers, photos, running
):
    body = {
        "image_url": f"{photos}/photo.jpg",
        "prompt": "Make the background a sunset beach",
        "model": "nanobananapro",
        "output_format": "png",
        "aspect_ratio": "LANDSCAPE",
        "resolution": "2K",
    }
    created = await client.post(f"{API}/generate", headers=headers, json=body)
    assert created.status_code == 200, created.text
    data = created.json()["data"]
    assert isinstance(data["id"], int) and data["prompt"] == body["prompt"]
    assert data["status"] in ("NOT_STARTED", "RUNNING", "COMPLETED")
    done = await until_finished(client, headers, data["id"])
    assert done["status"] == "COMPLETED" and done["prompt"] == body["prompt"]
    result = images.decode((await client.get(done["image_url"])).content).rgb
    assert result.shape == (1229, 2048, 3)  # LANDSCAPE 16:9, 2K = a 2048 px edge
    assert await money(rt, account[0]) == (30 - 8, 0)  # nanobananapro: 8 tokens, once
    again = await until_finished(client, headers, data["id"])
    assert unsigned(again) == unsigned(done) and await money(rt, account[0]) == (22, 0)


async def test_two_photos_are_composed_and_no_photo_is_text_to_image(
    client, rt, account, headers, photos, running
):
    urls = [f"{photos}/product1.jpg", f"{photos}/product2.jpg"]
    body = {"image_url": urls, "prompt": "Place the first on the second", "model": "nanobanana"}
    created = (await client.post(f"{API}/generate", headers=headers, json=body)).json()["data"]
    job = await jobs.load(rt, str(created["id"]))
    assert job.operation == "edit" and job.params["reference_key"] and job.cost == 3
    assert (await until_finished(client, headers, created["id"]))["status"] == "COMPLETED"
    text = {"prompt": "a teapot", "model": "kontext-pro"}
    made = (await client.post(f"{API}/generate", headers=headers, json=text)).json()["data"]
    assert made["id"] == created["id"] + 1
    assert (await jobs.load(rt, str(made["id"]))).operation == "generate"
    assert (await until_finished(client, headers, made["id"]))["status"] == "COMPLETED"
    assert await money(rt, account[0]) == (30 - 3 - 2, 0)


async def test_upscale_is_the_quality_path_at_20_tokens(client, rt, headers, photos):
    created = await client.post(
        f"{API}/upscale", headers=headers, json={"image_url": f"{photos}/photo.jpg"}
    )
    assert created.status_code == 200, created.text
    data = created.json()["data"]
    assert data["status"] == "NOT_STARTED" and "prompt" not in data
    job = await jobs.load(rt, str(data["id"]))
    assert (job.operation, job.cost, job.params["model"]) == ("upscale", 20, "realesrgan-x4plus")
    assert (job.params["out_width"], job.params["out_height"]) == (240, 180)


async def test_key_check(client, rt, account, headers):
    body = (await client.get(f"{API}/key-check", headers=headers)).json()
    assert body == {
        "status": "OK",
        "data": {"valid": True, "tokens_remaining": 30, "plan": "enterprise"},
    }


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"prompt": "x", "model": "dall-e"}, 400, "INVALID_MODEL"),
        ({"prompt": "x"}, 400, "INVALID_MODEL"),
        (
            {"image_url": ["/photo.jpg"] * 3, "prompt": "x", "model": "seedream"},
            400,
            "INVALID_IMAGE_URL",
        ),
        (
            {"image_url": "/missing.jpg", "prompt": "x", "model": "seedream"},
            400,
            "INVALID_IMAGE_URL",
        ),
        (
            {"image_url": "ftp://example.com/a.jpg", "prompt": "x", "model": "seedream"},
            400,
            "INVALID_IMAGE_URL",
        ),
        ({"image_url": 7, "prompt": "x", "model": "seedream"}, 400, "INVALID_IMAGE_URL"),
        ({"model": "seedream"}, 400, "INVALID_PARAMETER"),
        ({"prompt": "x", "model": "gpt-low", "aspect_ratio": "WIDE"}, 400, "INVALID_PARAMETER"),
    ],
)
async def test_bad_requests_are_its_errors_and_free(
    client, rt, account, headers, photos, body, status, code
):
    if isinstance(body.get("image_url"), str) and body["image_url"].startswith("/"):
        body = {**body, "image_url": photos + body["image_url"]}
    if isinstance(body.get("image_url"), list):
        body = {**body, "image_url": [photos + url for url in body["image_url"]]}
    error_of(await client.post(f"{API}/generate", headers=headers, json=body), status, code)
    assert await money(rt, account[0]) == (30, 0)


async def test_keys_tokens_and_jobs_errors(client, rt, headers, photos):
    generate = {"prompt": "x", "model": "gpt-high"}
    error_of(await client.post(f"{API}/generate", json=generate), 401, "INVALID_API_KEY")
    wrong = {"x-api-key": "ps_live_" + "x" * 40}
    error_of(await client.get(f"{API}/key-check", headers=wrong), 401, "INVALID_API_KEY")
    _, poor_key = await accounts.create(rt, 5, "enterprise")
    poor = {"x-api-key": poor_key}
    error_of(
        await client.post(f"{API}/generate", headers=poor, json=generate), 402, "OUT_OF_TOKENS"
    )
    error_of(await client.get(f"{API}/job/999999", headers=headers), 404, "JOB_NOT_FOUND")
    error_of(await client.get(f"{API}/job/abc", headers=headers), 404, "JOB_NOT_FOUND")
    theirs = await client.post(
        f"{API}/generate", headers=poor, json={**generate, "model": "gpt-low"}
    )
    other_id = theirs.json()["data"]["id"]
    error_of(await client.get(f"{API}/job/{other_id}", headers=headers), 404, "JOB_NOT_FOUND")
    custom = {"image_url": f"{photos}/photo.jpg", "prompt": "x", "model": "custom-owesa"}
    response = await client.post(f"{API}/generate-custom-model", headers=headers, json=custom)
    error_of(response, 400, "INVALID_MODEL")


async def test_without_generator_weights_it_is_503_in_its_envelope(
    redis_server, tmp_path, weights_dir
):
    async with bundled_only(redis_server, tmp_path, weights_dir) as (bare, http):
        account_id, key = await accounts.create(bare, 10, "enterprise")
        response = await http.post(
            f"{API}/generate",
            headers={"x-api-key": key},
            json={"prompt": "x", "model": "seedream"},
        )
        error_of(response, 503, "MODEL_UNAVAILABLE")
        assert await money(bare, account_id) == (10, 0)


async def test_a_sixteenth_job_request_in_a_minute_from_one_ip_is_refused(rt, headers):
    """Its limit counts job requests (polls are the plan's status limit: its own advice, a
    poll every 3-5 s, would pass 15 a minute on polls alone)."""
    bad = {"prompt": "x", "model": "no-such-model"}
    async with app_client(rt, client=("203.0.113.9", 4000)) as http:
        for _ in range(15):
            response = await http.post(f"{API}/generate", headers=headers, json=bad)
            error_of(response, 400, "INVALID_MODEL")
        limited = await http.post(f"{API}/generate", headers=headers, json=bad)
        assert (
            int(error_of(limited, 429, "RATE_LIMIT_EXCEEDED") and limited.headers["retry-after"])
            > 0
        )
        assert (await http.get(f"{API}/key-check", headers=headers)).status_code == 200
    async with app_client(rt, client=("203.0.113.10", 4000)) as other:  # another IP
        error_of(
            await other.post(f"{API}/generate", headers=headers, json=bad), 400, "INVALID_MODEL"
        )

"""Results: signed URLs, format negotiation, caching headers, retention, sync mode, hints."""

from __future__ import annotations

import os
import time

import httpx
import numpy as np
import pytest

from loadtest.photos import photo_bytes
from serve_app.core.runtime import Runtime
from serve_app.engine import images, jobs, maintenance
from serve_app.engine.dispatcher import Dispatcher
from serve_app.ingress import create_app
from tests.helpers.dispatch import lanes
from tests.helpers.http import assert_error
from tests.helpers.runtime import make_settings, wait_for

PNG = photo_bytes("astronaut", size=32)


class Works:
    async def stream(self, image, params):
        yield {"progress": 0.5}
        rgb = np.full((params["out_height"], params["out_width"], 3), 120, np.uint8)
        yield {"image": rgb}


@pytest.fixture
async def dispatcher(rt):
    running = Dispatcher(rt, lanes({"upscale": Works()}), "results")
    await running.start()
    yield running
    await running.stop()


async def finished_job(client, auth, **data) -> dict:
    job_id = (
        await client.post("/v1/upscale", headers=auth, files={"image": ("a.png", PNG)}, data=data)
    ).json()["job_id"]

    async def done():
        body = (await client.get(f"/v1/jobs/{job_id}", headers=auth)).json()
        return body if body["status"] == "done" else None

    return await wait_for(done)


async def test_signed_url_needs_no_key(client, auth, dispatcher):
    job = await finished_job(client, auth)
    url = job["result_url"].replace("http://testserver", "")
    response = await client.get(url)  # no key at all, as an <img src> would
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda u: u.replace("sig=", "sig=x"),
        lambda u: u.split("&sig")[0],
        lambda u: u.replace("exp=", "exp=1"),
    ],
)
async def test_bad_signatures_say_so_and_fall_back_to_the_key(client, auth, dispatcher, mangle):
    job = await finished_job(client, auth)
    url = mangle(job["result_url"].replace("http://testserver", ""))
    body = assert_error(await client.get(url), 403, "invalid_signature")
    assert f"GET /v1/jobs/{job['job_id']}" in body["detail"]
    assert (await client.get(url, headers=auth)).status_code == 200
    bare = url.split("?")[0]
    assert_error(await client.get(bare), 401, "missing_key")  # no signature: a key is needed


async def test_signature_is_bound_to_its_job(client, auth, dispatcher):
    one, two = await finished_job(client, auth), await finished_job(client, auth)
    query = one["result_url"].split("?")[1]
    url = f"/v1/jobs/{two['job_id']}/download?{query}"
    assert (
        "does not match" in assert_error(await client.get(url), 403, "invalid_signature")["detail"]
    )


async def test_expired_signature_is_refused(client, auth, rt, dispatcher):
    job = await finished_job(client, auth)
    url = job["result_url"].replace("http://testserver", "")
    rt.clock = lambda: time.time() + 2 * 86400
    assert "has expired" in assert_error(await client.get(url), 403, "invalid_signature")["detail"]


async def test_format_negotiation_and_cache_headers(client, auth, dispatcher):
    job = await finished_job(client, auth, output_format="png")
    base = f"/v1/jobs/{job['job_id']}/download"
    png = await client.get(base, headers=auth)
    assert png.headers["content-type"] == "image/png"
    assert int(png.headers["content-length"]) == len(png.content)
    assert png.headers["cache-control"].startswith("private, max-age=")
    again = await client.get(base, headers={**auth, "If-None-Match": png.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    jpg = await client.get(f"{base}?format=jpg&quality=40", headers=auth)
    assert jpg.headers["content-type"] == "image/jpeg" and images.sniff(jpg.content) == "jpg"
    better = await client.get(f"{base}?format=jpg&quality=95", headers=auth)
    assert len(better.content) > len(jpg.content)
    webp = await client.get(f"{base}?format=webp", headers=auth)
    assert images.sniff(webp.content) == "webp"
    assert_error(await client.get(f"{base}?format=gif", headers=auth), 400, "invalid_parameter")


async def test_quality_at_submit(client, auth, dispatcher):
    low = await finished_job(client, auth, output_format="jpg", quality="10")
    high = await finished_job(client, auth, output_format="jpg", quality="95")
    sizes = [
        len((await client.get(f"/v1/jobs/{j['job_id']}/download", headers=auth)).content)
        for j in (low, high)
    ]
    assert sizes[0] < sizes[1]
    assert_error(
        await client.post(
            "/v1/upscale", headers=auth, files={"image": ("a.png", PNG)}, data={"quality": "0"}
        ),
        400,
        "invalid_parameter",
    )


async def test_retention_deletes_old_blobs_and_expired_jobs_are_404(client, auth, rt, dispatcher):
    job = await finished_job(client, auth)
    stored = await jobs.load(rt, job["job_id"])
    old = time.time() - rt.settings.result_ttl_s - 10
    for key in (stored.input_key, stored.result_key):
        os.utime(rt.blobs.path(key), (old, old))
    removed = await maintenance.sweep_blobs(rt)
    assert removed == {"inputs": 1, "results": 1, "kept": 0}
    assert_error(
        await client.get(f"/v1/jobs/{job['job_id']}/download", headers=auth), 404, "job_not_found"
    )
    await rt.redis.delete(rt.keys.job(job["job_id"]))  # what the record's TTL does
    assert_error(await client.get(f"/v1/jobs/{job['job_id']}", headers=auth), 404, "job_not_found")


async def test_job_record_lives_a_little_longer_than_its_result(client, auth, rt):
    job_id = (
        await client.post("/v1/upscale", headers=auth, files={"image": ("a.png", PNG)})
    ).json()["job_id"]
    ttl = await rt.redis.ttl(rt.keys.job(job_id))
    assert rt.settings.result_ttl_s < ttl <= rt.settings.result_ttl_s + 3600


async def test_sync_mode_returns_the_finished_job(client, auth, dispatcher):
    response = await client.post(
        "/v1/upscale?wait=20", headers=auth, files={"image": ("a.png", PNG)}
    )
    assert response.status_code == 200 and response.json()["status"] == "done"
    image = await client.post(
        "/v1/upscale?wait=20",
        headers={**auth, "Accept": "image/*"},
        files={"image": ("a.png", PNG)},
    )
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert images.decode(image.content).rgb.shape == (64, 64, 3)


async def test_sync_mode_times_out_into_a_202(client, auth):
    started = time.monotonic()
    response = await client.post(
        "/v1/upscale?wait=0.3", headers=auth, files={"image": ("a.png", PNG)}
    )
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert time.monotonic() - started >= 0.3
    assert_error(
        await client.post("/v1/upscale?wait=61", headers=auth, files={"image": ("a.png", PNG)}),
        400,
        "invalid_parameter",
    )


async def test_queued_jobs_carry_polling_hints(client, auth, rt):
    await rt.redis.hset(rt.keys.timings, "processing:upscale", 12.0)
    first = (await client.post("/v1/upscale", headers=auth, files={"image": ("a.png", PNG)})).json()
    for _ in range(7):
        await client.post("/v1/upscale", headers=auth, files={"image": ("a.png", PNG)})
    response = await client.get(f"/v1/jobs/{first['job_id']}", headers=auth)
    body = response.json()
    # 8 queued, 4 workers, 12 s a job: (8 / 4 + 1) * 12 / 3 = 12 -> capped at 10
    assert body["polling_interval"] == 10 and response.headers["retry-after"] == "10"


async def test_redis_down_is_a_503_envelope(redis_server, tmp_path, weights_dir):
    from serve_app.process.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "r", appendonly=False).start()
    settings = make_settings(server, tmp_path, weights_dir)
    rt = Runtime.create(settings)
    server.kill()
    try:
        transport = httpx.ASGITransport(app=create_app(rt), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/v1/credits", headers={"x-key": "ps_" + "a" * 32})
        assert_error(response, 503, "service_unavailable")
        assert response.headers["retry-after"] == "1"
    finally:
        await rt.close()


async def test_streams_are_trimmed_to_what_is_still_needed(client, auth, rt, dispatcher):
    for _ in range(3):
        await finished_job(client, auth)
    stream = rt.keys.stream("upscale")

    async def all_acked():
        return (await rt.redis.xpending(stream, rt.keys.group))["pending"] == 0

    await wait_for(all_acked)
    assert await rt.redis.xlen(stream) == 3
    await maintenance.trim_stream(rt, stream)
    assert await rt.redis.xlen(stream) == 1  # MINID keeps the last delivered entry


async def test_results_from_an_s3_store(redis_server, tmp_path, weights_dir, s3_store):
    from serve_app.billing import accounts

    settings = make_settings(redis_server, tmp_path, weights_dir, blob_url="s3://unused")
    rt = Runtime.create(settings)
    rt.blobs = s3_store
    running = Dispatcher(rt, lanes({"upscale": Works()}), "s3")
    await running.start()
    try:
        _, key = await accounts.create(rt, 10, "enterprise")
        transport = httpx.ASGITransport(app=create_app(rt), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            job = await finished_job(http, {"x-key": key})
            url = job["result_url"].replace("http://testserver", "")
            first = await http.get(url + "&download=true")
            assert first.status_code == 200 and images.sniff(first.content) == "png"
            assert (
                first.headers["content-disposition"]
                == f'attachment; filename="{job["job_id"]}.png"'
            )
            again = await http.get(url, headers={"If-None-Match": first.headers["etag"]})
            assert again.status_code == 304
            webp = await http.get(url + "&format=webp")
            assert images.sniff(webp.content) == "webp"
    finally:
        await running.stop()
        await rt.close()

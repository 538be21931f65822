"""PND AI's API under /api/: every documented error with its status, and the shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from loadtest.photos import encode, photo
from serve_app.billing import accounts, credits
from serve_app.engine import jobs
from serve_app.engine.dispatcher import Dispatcher
from serve_app.ingress import webhook_styles
from serve_app.webhooks.delivery import WebhookWorker
from tests.helpers.dispatch import lanes
from tests.helpers.http import assert_error
from tests.helpers.runtime import wait_for

JPEG = encode(photo("astronaut", 256), "JPEG", quality=90)
NOISE_PNG = encode(np.random.default_rng(0).integers(0, 255, (800, 800, 3), np.uint8))  # > 1 MB


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def pnd_rt(face_rt):
    return face_rt


@pytest.fixture
def pnd(face_client):
    return face_client


@pytest.fixture
async def key(pnd_rt):
    _, api_key = await accounts.create(pnd_rt, 20, "free")
    return api_key


async def upload(pnd, key, endpoint="uploadv2/", **body):
    return await pnd.post(
        f"/api/{endpoint}", headers={"x-key": key}, json={"image_base64": b64(JPEG), **body}
    )


async def test_upload_v2_answers_like_pnd(pnd, key, pnd_rt):
    response = await upload(pnd, key, size="2K", model=1, lang="vn")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["status"] == "queued" and body["endpoint"] == "v2"
    assert (body["size"], body["cost"], body["credit_source"]) == ("2K", 2, "free")
    assert body["remaining"] == 21  # 20 extra + 3 free today - 2
    prefix, stamp, tail = body["job_id"].split(".")
    assert prefix == "vn_api" and stamp.isdigit() and len(tail) == 16
    job = await jobs.load(pnd_rt, body["job_id"])
    assert job.operation == "restore-face"


@pytest.mark.parametrize(("size", "cost"), [("HD", 1), ("1920", 1), ("2k", 2), ("4K", 4)])
async def test_v1_sizes_and_costs(pnd, key, size, cost):
    body = (await upload(pnd, key, "upload/", size=size)).json()
    assert (body["endpoint"], body["cost"]) == ("v1", cost)


async def test_default_size_is_fhd(pnd, key):
    assert (await upload(pnd, key, "upload/")).json()["size"] == "FHD"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"{", "headers": {"content-type": "application/json"}}, 400, "invalid_json"),
        ({"json": {"size": "2K"}}, 400, "no_image"),
        ({"json": {"image_base64": "@@@"}}, 400, "invalid_base64"),
        ({"json": {"image_base64": b64(b"\xff\xd8\xff" + b"\0" * 64)}}, 400, "corrupt_image"),
        ({"json": {"image_base64": b64(JPEG), "size": "8K"}}, 400, "invalid_size"),
        ({"json": {"image_base64": b64(b"BM" + b"\0" * 64)}}, 415, "invalid_format"),
        (
            {"json": {"image_base64": b64(NOISE_PNG)}},
            413,
            "image_too_large",
        ),
        (
            {"json": {"image_base64": b64(encode(photo("coffee", 1100), "JPEG", quality=30))}},
            413,
            "pixel_too_large",
        ),
    ],
)
async def test_documented_upload_errors(pnd, key, kwargs, status, code):
    headers = {"x-key": key, **kwargs.pop("headers", {})}
    assert_error(await pnd.post("/api/uploadv2/", headers=headers, **kwargs), status, code)


async def test_key_errors(pnd, key):
    assert_error(await pnd.post("/api/uploadv2/", json={}), 401, "missing_key")
    assert_error(
        await pnd.get("/api/credits/", headers={"x-key": "pndai.ai:whatever"}),
        401,
        "invalid_key_format",
    )
    response = await pnd.get("/api/credits/", headers={"x-key": "ps_" + "x" * 32})
    assert_error(response, 401, "invalid_key")


async def test_out_of_credits_says_remaining_and_cost(pnd, pnd_rt):
    _, poor = await accounts.create(pnd_rt, 0, "enterprise")
    body = assert_error(await upload(pnd, poor, "upload/", size="4K"), 402, "out_of_credits")
    assert (body["remaining"], body["cost"]) == (0, 4)


async def test_status_and_result_before_and_after_done(pnd, key, pnd_rt):
    job_id = (await upload(pnd, key, "upload/")).json()["job_id"]
    headers = {"x-key": key}
    queued = (await pnd.get(f"/api/status/?job_id={job_id}", headers=headers)).json()
    assert queued["status"] == "queued" and "result_url" not in queued and queued["remaining"] == 22
    assert_error(await pnd.get(f"/api/result/?job_id={job_id}", headers=headers), 425, "not_ready")
    job = await jobs.load(pnd_rt, job_id)
    await pnd_rt.blobs.put(f"results/{job_id}.jpg", JPEG)
    await jobs.transition(pnd_rt, job_id, {jobs.JobStatus.QUEUED}, jobs.JobStatus.PROCESSING)
    await jobs.complete(pnd_rt, job, result_key=f"results/{job_id}.jpg", content_type="image/jpeg")
    done = (await pnd.get("/api/status/", params={"job_id": job_id}, headers=headers)).json()
    assert done["status"] == "done" and done["deducted_this_call"] is True
    assert done["result_url"] == f"http://testserver/api/result/?job_id={job_id}"
    assert done["countfaces"] == 0 and done["face_urls"] == []
    again = (await pnd.get("/api/status/", params={"job_id": job_id}, headers=headers)).json()
    assert again["deducted_this_call"] is False and again["remaining"] == 22
    image = await pnd.get(done["result_url"].replace("http://testserver", ""), headers=headers)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    by_query = await pnd.get(f"/api/result/?job_id={job_id}&key={key}")
    assert by_query.content == image.content
    assert_error(
        await pnd.get(f"/api/result/?job_id={job_id}&face=0", headers=headers), 404, "job_not_found"
    )


async def test_failed_job_reads_error(pnd, key, pnd_rt):
    job_id = (await upload(pnd, key, "upload/")).json()["job_id"]
    await jobs.fail(pnd_rt, await jobs.load(pnd_rt, job_id), "error_inference", "boom")
    body = (await pnd.get(f"/api/status/?job_id={job_id}", headers={"x-key": key})).json()
    assert (body["status"], body["error"]) == ("error", "error_inference")


async def test_job_scoping_errors(pnd, key, pnd_rt):
    job_id = (await upload(pnd, key, "upload/")).json()["job_id"]
    _, other = await accounts.create(pnd_rt, 5, "free")
    assert_error(
        await pnd.get(f"/api/status/?job_id={job_id}", headers={"x-key": other}),
        403,
        "not_your_job",
    )
    assert_error(
        await pnd.get(f"/api/result/?job_id={job_id}", headers={"x-key": other}),
        403,
        "not_your_job",
    )
    assert_error(
        await pnd.get("/api/status/?job_id=vn_api.1.0000000000000000", headers={"x-key": key}),
        404,
        "job_not_found",
    )
    assert_error(
        await pnd.get("/api/status/?job_id=bad id!", headers={"x-key": key}), 400, "invalid_job_id"
    )
    assert_error(await pnd.get("/api/status/", headers={"x-key": key}), 400, "invalid_job_id")


async def test_credits_rotate_stats(pnd, key):
    headers = {"x-key": key}
    await upload(pnd, key, "upload/")
    await upload(pnd, key, "uploadv2/", size="2K")
    body = (await pnd.get("/api/credits/", headers=headers)).json()
    assert body["user_type"] == "free" and body["vip_active"] is False
    assert body["credits"] == {"sub": 0, "extra": 20, "free_today": 0, "total": 20}
    assert body["today"] == {"used": 3, "limit": 3}
    stats = (await pnd.get("/api/stats/?days=7", headers=headers)).json()
    assert stats["totals"]["all"] == 2 and stats["by_endpoint"] == {"v1": 1, "v2": 1}
    assert stats["by_size"] == {"FHD": 1, "2K": 1} and len(stats["daily"]) == 7
    assert {r["endpoint"] for r in stats["recent"]} == {"v1", "v2"}
    rotated = (await pnd.post("/api/rotate/", headers=headers)).json()
    assert rotated["new_key"].startswith("ps_") and len(rotated["rotated_at"]) == 19
    assert_error(await pnd.get("/api/credits/", headers=headers), 401, "invalid_key")
    assert (
        await pnd.get("/api/credits/", headers={"x-key": rotated["new_key"]})
    ).status_code == 200


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Works:
    async def stream(self, image, params):
        yield {"image": np.zeros((params["out_height"], params["out_width"], 3), np.uint8)}


async def test_webhook_with_pnd_signature(pnd, key, pnd_rt):
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pnd_rt.settings.allow_private_urls = True
    url = f"http://127.0.0.1:{server.server_address[1]}/pndai/callback"
    registered = await pnd.post(
        "/api/webhook/", headers={"x-key": key}, json={"url": url, "secret": "my_random_string"}
    )
    assert registered.json()["enabled"] is True
    job_id = (await upload(pnd, key, "upload/")).json()["job_id"]
    dispatcher = Dispatcher(pnd_rt, lanes({"upscale": Works()}), "pnd")
    worker = WebhookWorker(pnd_rt, "w", "http://testserver", webhook_styles())
    await dispatcher.start()
    await worker.start()
    try:
        await wait_for(lambda: _received(1), timeout_s=30)
    finally:
        await dispatcher.stop()
        await worker.stop()
        server.shutdown()
    headers, body = Receiver.received[0]
    expected = "sha256=" + hmac.new(b"my_random_string", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-pndai-signature"], expected)
    assert headers["user-agent"] == "PNDAI-Webhook/1.0"
    event = json.loads(body)
    assert event["event"] == "job.done" and event["job_id"] == job_id and event["endpoint"] == "v1"
    assert event["result_url"].endswith(f"/api/result/?job_id={job_id}") and event["size"] == "FHD"
    assert (await pnd.post("/api/webhook/", headers={"x-key": key}, json={"url": ""})).json()[
        "enabled"
    ] is False


async def _received(count: int) -> bool:
    return len(Receiver.received) >= count


async def test_v2_without_gfpgan_weights_is_503_and_free(client, rt):
    account_id, key = await accounts.create(rt, 20, "enterprise")
    response = await client.post(
        "/api/uploadv2/", headers={"x-key": key}, json={"image_base64": b64(JPEG)}
    )
    assert_error(response, 503, "model_unavailable")
    assert (await credits.balance(rt, account_id, "enterprise")).total == 20


async def test_an_idempotency_key_makes_a_retried_upload_safe(pnd, key, pnd_rt):
    async def send(**body):
        return await pnd.post(
            "/api/upload/",
            headers={"x-key": key, "Idempotency-Key": "upload-1"},
            json={"image_base64": b64(JPEG), **body},
        )

    first, again = await send(size="2K"), await send(size="2K")
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()  # PND's body, credit source and all, once more
    assert first.json()["credit_source"] == "free" and first.json()["endpoint"] == "v1"
    account_id = (await jobs.load(pnd_rt, first.json()["job_id"])).account
    assert (await credits.balance(pnd_rt, account_id, "free")).total == 23 - 2  # charged once
    assert_error(await send(size="4K"), 422, "idempotency_key_reused")


async def test_wait_answers_with_the_finished_job_in_pnds_shape(pnd, key, pnd_rt):
    dispatcher = Dispatcher(pnd_rt, lanes({"upscale": Works()}), "pnd-wait")
    await dispatcher.start()
    try:
        response = await pnd.post(
            "/api/upload/?wait=20", headers={"x-key": key}, json={"image_base64": b64(JPEG)}
        )
        image = await pnd.post(
            "/api/upload/?wait=20",
            headers={"x-key": key, "Accept": "image/jpeg"},
            json={"image_base64": b64(JPEG)},
        )
    finally:
        await dispatcher.stop()
    body = response.json()
    assert response.status_code == 200 and body["status"] == "done", body
    assert body["deducted_this_call"] is True and body["endpoint"] == "v1"
    assert body["result_url"].endswith(f"/api/result/?job_id={body['job_id']}")
    assert image.headers["content-type"] == "image/jpeg" and image.content[:3] == b"\xff\xd8\xff"

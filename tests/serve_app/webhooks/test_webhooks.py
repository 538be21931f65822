"""Webhook registration and delivery to a real local HTTP receiver: signatures, retries with
back-off, the delivery log."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from loadtest.photos import photo_bytes
from photoserve.webhooks import verify
from serve_app.billing import accounts
from serve_app.engine import jobs
from serve_app.engine.dispatcher import Dispatcher
from serve_app.ingress import webhook_styles
from serve_app.webhooks.delivery import WebhookWorker
from tests.helpers.dispatch import lanes
from tests.helpers.dispatch import submit_upscale as submit
from tests.helpers.http import assert_error
from tests.helpers.runtime import wait_for


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    fail_first: int = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        status = 500 if len(type(self).received) <= type(self).fail_first else 200
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received, Receiver.fail_first = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", Receiver
    server.shutdown()


class Works:
    async def stream(self, image, params):
        yield {"image": np.zeros((params["out_height"], params["out_width"], 3), np.uint8)}


class Fails:
    async def stream(self, image, params):
        raise RuntimeError("boom")
        yield


@pytest.fixture
async def running(rt):
    started = []

    async def start(backend):
        dispatcher = Dispatcher(rt, lanes({"upscale": backend}), "d")
        worker = WebhookWorker(rt, "w", "http://photos.example", webhook_styles())
        await dispatcher.start()
        await worker.start()
        started.extend([dispatcher, worker])

    yield start
    for item in started:
        await item.stop()


async def test_registration_refuses_private_targets_by_default(client, auth, rt):
    response = await client.put("/v1/webhook", headers=auth, json={"url": "http://127.0.0.1:9/x"})
    assert (
        "PHOTOSERVE_ALLOW_PRIVATE_URLS" in assert_error(response, 400, "url_not_allowed")["detail"]
    )
    assert_error(
        await client.put("/v1/webhook", headers=auth, json={"url": "ftp://x.example/"}),
        400,
        "invalid_url",
    )
    rt.settings.allow_private_urls = True
    response = await client.put("/v1/webhook", headers=auth, json={"url": "http://127.0.0.1:9/x"})
    assert response.status_code == 200 and response.json()["secret"].startswith("whsec_")
    shown = (await client.get("/v1/webhook", headers=auth)).json()
    assert shown == {"ok": True, "url": "http://127.0.0.1:9/x", "enabled": True, "secret_set": True}
    assert (await client.put("/v1/webhook", headers=auth, json={"url": ""})).json()[
        "enabled"
    ] is False
    assert (await client.get("/v1/webhook", headers=auth)).json()["enabled"] is False


async def test_done_event_is_signed_and_logged(client, auth, rt, account, receiver, running):
    url, handler = receiver
    rt.settings.allow_private_urls = True
    await client.put("/v1/webhook", headers=auth, json={"url": url, "secret": "s3cret-value"})
    job = await submit(rt, account[0], photo_bytes(size=16))
    await running(Works())
    await wait_for(lambda: asyncio.sleep(0, len(handler.received) == 1))
    headers, body = handler.received[0]
    event = verify(body, headers, "s3cret-value")
    assert event["type"] == "job.done" and event["data"]["job_id"] == job.job_id
    assert event["data"]["status"] == "done" and "sig=" in event["data"]["result_url"]
    assert headers["user-agent"].startswith("photoserve-webhooks")
    log = (await client.get("/v1/webhook/deliveries", headers=auth)).json()["deliveries"]
    assert log[0]["delivered"] is True and log[0]["status_code"] == 200 and log[0]["attempt"] == 1


async def test_failed_event(client, auth, rt, account, receiver, running):
    url, handler = receiver
    rt.settings.allow_private_urls = True
    await client.put("/v1/webhook", headers=auth, json={"url": url, "secret": "s3cret-value"})
    await submit(rt, account[0], photo_bytes(size=16))
    await running(Fails())
    await wait_for(lambda: asyncio.sleep(0, len(handler.received) == 1))
    event = verify(handler.received[0][1], handler.received[0][0], "s3cret-value")
    assert event["type"] == "job.failed" and event["data"]["error"]["code"] == "error_inference"


async def test_failures_are_retried_with_backoff_under_one_id(
    client, auth, rt, account, receiver, running
):
    url, handler = receiver
    handler.fail_first = 2
    rt.settings.allow_private_urls = True
    rt.settings.webhook_backoff_s = (0.2, 0.2, 0.2, 0.2)
    await client.put("/v1/webhook", headers=auth, json={"url": url, "secret": "s3cret-value"})
    await submit(rt, account[0], photo_bytes(size=16))
    await running(Works())
    await wait_for(lambda: asyncio.sleep(0, len(handler.received) == 3), timeout_s=20)
    ids = {headers["webhook-id"] for headers, _ in handler.received}
    assert len(ids) == 1  # receivers can deduplicate
    log = (await client.get("/v1/webhook/deliveries", headers=auth)).json()["deliveries"]
    assert [(d["attempt"], d["delivered"]) for d in reversed(log)] == [
        (1, False),
        (2, False),
        (3, True),
    ]
    assert log[-1]["error"] == "HTTP 500" and log[-1]["next_attempt_at"]


async def test_gives_up_after_the_last_attempt(client, auth, rt, account, receiver, running):
    url, handler = receiver
    handler.fail_first = 99
    rt.settings.allow_private_urls = True
    rt.settings.webhook_backoff_s = (0.1, 0.1)
    await client.put("/v1/webhook", headers=auth, json={"url": url, "secret": "s3cret-value"})
    await submit(rt, account[0], photo_bytes(size=16))
    await running(Works())
    await wait_for(lambda: asyncio.sleep(0, len(handler.received) == 3), timeout_s=20)
    await asyncio.sleep(1.5)
    assert len(handler.received) == 3
    assert await rt.redis.zcard(rt.keys.webhook_retries) == 0


async def test_no_webhook_no_event(rt, account, running):
    job = await submit(rt, account[0], photo_bytes(size=16))
    await running(Works())
    await wait_for(lambda: _done(rt, job.job_id))
    assert await rt.redis.xlen(rt.keys.webhooks) == 0


async def test_private_target_refused_at_delivery_time(
    client, auth, rt, account, receiver, running
):
    """Registered while allowed, refused once not: DNS or settings can change."""
    url, handler = receiver
    rt.settings.allow_private_urls = True
    await client.put("/v1/webhook", headers=auth, json={"url": url, "secret": "s3cret-value"})
    rt.settings.allow_private_urls = False
    rt.settings.webhook_backoff_s = ()
    await submit(rt, account[0], photo_bytes(size=16))
    await running(Works())

    async def logged():
        return (await client.get("/v1/webhook/deliveries", headers=auth)).json()["deliveries"]

    log = await wait_for(logged)
    assert log[0]["delivered"] is False and "private" in log[0]["error"]
    assert handler.received == []


async def _done(rt, job_id):
    return (await jobs.load(rt, job_id)).status == "done"


async def test_secret_length_is_checked(client, auth, rt):
    rt.settings.allow_private_urls = True
    response = await client.put(
        "/v1/webhook", headers=auth, json={"url": "http://127.0.0.1:9/", "secret": "short"}
    )
    assert_error(response, 400, "invalid_parameter")


async def test_account_scoping(client, rt, auth):
    rt.settings.allow_private_urls = True
    await client.put("/v1/webhook", headers=auth, json={"url": "http://127.0.0.1:9/a"})
    _, other = await accounts.create(rt, 1, "free")
    assert (await client.get("/v1/webhook", headers={"x-key": other})).json()["enabled"] is False

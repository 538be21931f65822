"""No API key, token or secret reaches a log line: a full flow (admin, native submit and
download by key and by signed URL, a webhook with its secret, PND's upload and status,
Perfect Corp's client credentials, auth and a task, a key rotation, failed logins) runs with
every logger at DEBUG, each record is rendered as the service renders it, and every line is
searched for each secret the flow handled."""

from __future__ import annotations

import logging

import pytest

from loadtest.photos import encode, photo
from serve_app.core import logs
from tests.helpers.backends import LocalUpscaleBackend
from tests.helpers.dispatch import dispatching
from tests.helpers.perfect_client import Perfect
from tests.helpers.runtime import ADMIN_TOKEN, make_settings

PNG = encode(photo("astronaut", 48))


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir):
    # the webhook goes to a closed local port: its (failing) deliveries are logged too
    return make_settings(redis_server, tmp_path, weights_dir, allow_private_urls=True)


async def flow(client, rt, weights_dir) -> list[str]:
    """Everything secret the flow saw."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    made = (await client.post("/admin/accounts", headers=admin, json={"credits": 50})).json()
    key = made["api_key"]
    auth = {"x-api-key": key}
    hook = await client.put(
        "/v1/webhook",
        headers=auth,
        json={"url": "http://127.0.0.1:9/hook", "secret": "whsec_" + "s" * 32},
    )
    seen = [key, ADMIN_TOKEN, rt.settings.key_secret, rt.settings.url_secret, "whsec_" + "s" * 32]
    assert hook.status_code == 200, hook.text
    async with dispatching(rt, {"upscale": LocalUpscaleBackend(weights_dir, 32)}, "secrets"):
        done = (
            await client.post("/v1/upscale?wait=30", headers=auth, files={"image": ("a.png", PNG)})
        ).json()
        signed = done["result_url"].replace("http://testserver", "")
        assert (await client.get(signed)).status_code == 200
        pnd = await client.post(
            "/api/upload/", headers={"x-key": key}, files={"image": ("a.png", PNG)}
        )
        assert pnd.status_code == 200, pnd.text
        perfect = Perfect(client, rt)
        await perfect.login(key)
        seen.append(perfect.bearer["Authorization"].split()[1])
        task = await perfect.run("enhance", await perfect.upload("enhance"), scale=2)
        assert task.status_code == 200, task.text
    for wrong in ("ps_wrong_key_guess", key[:-2] + "zz"):
        await client.get("/v1/credits", headers={"x-api-key": wrong})
    rotated = (await client.post("/v1/keys/rotate", headers=auth)).json()["new_key"]
    return [*seen, rotated, "ps_wrong_key_guess", key[:-2] + "zz", signed.split("sig=")[1]]


async def test_no_secret_in_any_log_line(client, rt, weights_dir, caplog):
    logs.configure("json", "DEBUG")  # as the service's processes do
    caplog.set_level(logging.DEBUG)
    service = logging.getLogger("photoserve")  # it does not propagate: listen to it directly
    service.addHandler(caplog.handler)
    for name in ("uvicorn", "fastapi", "redis"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        secrets = await flow(client, rt, weights_dir)
    finally:
        service.removeHandler(caplog.handler)
    formatter = logs.JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any('"photoserve.' in line for line in lines)  # the service's own lines were seen
    for secret in secrets:
        leaked = [line for line in lines if secret in line]
        assert leaked == [], f"{secret[:6]}… appears in {len(leaked)} log lines: {leaked[:2]}"

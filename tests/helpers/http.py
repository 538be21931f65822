"""Assertions on HTTP answers."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.helpers.conformance import Conformance


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_error(response: httpx.Response, status: int, code: str):
    """The documented envelope: `{"ok": false, "error": code, "detail": sentence}`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False and body["error"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@asynccontextmanager
async def app_client(rt, **transport) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the whole app, in this process (`transport`: e.g. client=(ip, port)),
    which checks every answer against the app's /openapi.json."""
    from serve_app.ingress import create_app

    app = create_app(rt)
    conformance = Conformance(app.openapi())

    async def conforms(response: httpx.Response) -> None:
        await response.aread()
        conformance.check(response)

    asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False, **transport)
    hooks = {"response": [conforms]}
    async with httpx.AsyncClient(
        transport=asgi, base_url="http://testserver", event_hooks=hooks
    ) as http:
        yield http


async def upload_custom_model(client: httpx.AsyncClient, key: str, data: bytes, name: str):
    """A LoRA uploaded the native way (POST /v1/custom-models), checked to be kept."""
    response = await client.post(
        "/v1/custom-models",
        headers={"x-key": key},
        files={"file": ("m.safetensors", data)},
        data={"name": name},
    )
    assert response.status_code == 201, response.text
    return response.json()


@asynccontextmanager
async def bundled_only(redis_server, data_dir, weights_dir):
    """The app with only the bundled weights (no PHOTOSERVE_MODELS file): (runtime, client),
    for the 503 `model_unavailable` of the models that need fetching."""
    from serve_app.core.runtime import Runtime
    from tests.helpers.runtime import make_settings

    rt = Runtime.create(make_settings(redis_server, data_dir, weights_dir))
    try:
        async with app_client(rt) as http:
            yield rt, http
    finally:
        await rt.close()

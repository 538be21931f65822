"""POST /v1/upscale: every way to send an image, and every error, in the documented envelope."""

from __future__ import annotations

import httpx
import pytest

from loadtest.photos import photo_bytes
from serve_app.billing import accounts
from serve_app.core.runtime import Runtime
from serve_app.engine import jobs
from serve_app.ingress import create_app
from tests.helpers.http import assert_error, b64
from tests.helpers.runtime import make_settings, money

PNG = photo_bytes("astronaut", size=64)


async def test_multipart_upload_is_accepted(client, auth, rt, account):
    response = await client.post(
        "/v1/upscale", headers=auth, files={"image": ("a.png", PNG)}, data={"scale": "4"}
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["cost"] == 2 and body["remaining"] == 98
    job = await jobs.load(rt, body["job_id"])
    assert job.account == account[0] and rt.blobs.path(job.input_key).read_bytes() == PNG


@pytest.mark.parametrize("prefix", ["", "data:image/png;base64,"])
async def test_json_base64_is_accepted(client, auth, prefix):
    response = await client.post(
        "/v1/upscale", headers=auth, json={"image_base64": prefix + b64(PNG), "size": "FHD"}
    )
    assert response.status_code == 202
    assert response.json()["cost"] == 1


@pytest.mark.parametrize("header", ["Authorization", "x-api-key", "X-API-KEY", "x-key"])
async def test_every_key_header_form(client, account, header):
    value = f"Bearer {account[1]}" if header == "Authorization" else account[1]
    response = await client.post(
        "/v1/upscale", headers={header: value}, json={"image_base64": b64(PNG)}
    )
    assert response.status_code == 202


async def test_image_url_to_loopback_is_refused(client, auth):
    response = await client.post(
        "/v1/upscale", headers=auth, json={"image_url": "http://127.0.0.1:1/a.png"}
    )
    body = assert_error(response, 400, "url_not_allowed")
    assert "PHOTOSERVE_ALLOW_PRIVATE_URLS=1" in body["detail"]  # says what would allow it


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        (
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "invalid_json",
        ),
        ({"json": ["a", "list"]}, 400, "invalid_json"),
        ({"json": {"size": "2K"}}, 400, "no_image"),
        ({"content": b""}, 400, "no_image"),
        ({"json": {"image_base64": "!!!not-base64!!!"}}, 400, "invalid_base64"),
        ({"json": {"image_base64": b64(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)}}, 400, "corrupt_image"),
        ({"json": {"image_base64": b64(b"GIF89a" + b"\0" * 64)}}, 415, "invalid_format"),
        ({"json": {"image_base64": b64(PNG), "size": "8K"}}, 400, "invalid_size"),
        ({"json": {"image_base64": b64(PNG), "scale": 3}}, 400, "invalid_parameter"),
        ({"json": {"image_base64": b64(PNG), "model": "nope"}}, 400, "invalid_parameter"),
        ({"json": {"image_base64": b64(PNG), "output_format": "bmp"}}, 400, "invalid_parameter"),
        ({"json": {"image_url": "ftp://example.com/a.png"}}, 400, "invalid_url"),
        ({"content": b"raw", "headers": {"content-type": "text/plain"}}, 400, "invalid_parameter"),
        ({"files": {"other": ("a.png", PNG)}}, 400, "no_image"),
    ],
)
async def test_bad_input_errors(client, auth, kwargs, status, code):
    headers = {**auth, **kwargs.pop("headers", {})}
    assert_error(await client.post("/v1/upscale", headers=headers, **kwargs), status, code)


async def test_size_limits(client, auth, rt):
    rt.settings.max_image_bytes = 2000
    big = photo_bytes("astronaut", size=128)
    assert_error(
        await client.post("/v1/upscale", headers=auth, files={"image": ("a.png", big)}),
        413,
        "image_too_large",
    )
    assert_error(
        await client.post("/v1/upscale", headers=auth, json={"image_base64": b64(big)}),
        413,
        "image_too_large",
    )
    rt.settings.max_image_bytes = 10_000_000
    rt.settings.max_upscale_edge = 100
    response = await client.post("/v1/upscale", headers=auth, files={"image": ("a.png", big)})
    assert_error(response, 413, "pixel_too_large")


async def test_missing_and_invalid_keys(client):
    assert_error(
        await client.post("/v1/upscale", json={"image_base64": b64(PNG)}), 401, "missing_key"
    )
    response = await client.post(
        "/v1/upscale", headers={"x-api-key": "ps_wrong"}, json={"image_base64": b64(PNG)}
    )
    body = assert_error(response, 401, "invalid_key")
    assert body["detail"] == "Invalid API key or account is locked"


async def test_locked_account_is_invalid_key(client, rt, account, auth):
    await rt.redis.hset(rt.keys.account(account[0]), "locked", 1)
    assert_error(
        await client.post("/v1/upscale", headers=auth, json={"image_base64": b64(PNG)}),
        401,
        "invalid_key",
    )


async def test_out_of_credits_says_what_remains_and_stores_nothing(client, rt):
    account_id, key = await accounts.create(rt, 1, "enterprise")
    response = await client.post(
        "/v1/upscale", headers={"x-key": key}, files={"image": ("a.png", PNG)}, data={"size": "4K"}
    )
    body = assert_error(response, 402, "out_of_credits")
    assert (body["remaining"], body["cost"]) == (1, 4)
    assert await money(rt, account_id) == (1, 0)
    assert not list((rt.blobs.root / "inputs").glob("*"))


async def test_model_without_weights_is_503_before_credits_move(
    redis_server, tmp_path, weights_dir
):
    empty = tmp_path / "no-weights"
    empty.mkdir()
    rt = Runtime.create(make_settings(redis_server, tmp_path, empty))
    try:
        account_id, key = await accounts.create(rt, 5, "enterprise")
        transport = httpx.ASGITransport(app=create_app(rt), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.post(
                "/v1/upscale", headers={"x-key": key}, json={"image_base64": b64(PNG)}
            )
            assert_error(response, 503, "model_unavailable")
            models = (await http.get("/v1/models")).json()["models"]
            assert models and not any(m["available"] for m in models)
        assert await money(rt, account_id) == (5, 0)
    finally:
        await rt.close()

"""Every route's body is capped before it is read: a declared length over the limit is
refused at once, a chunked body is cut off as it passes the limit, each in the envelope of
the surface it came in on; the custom-model upload has its own, larger limit."""

from __future__ import annotations

import pytest

from serve_app.ingress import BODY_OVERHEAD
from tests.helpers.http import assert_error
from tests.helpers.runtime import ADMIN_TOKEN, make_settings

MAX_IMAGE = 1000
LIMIT = MAX_IMAGE * 4 + BODY_OVERHEAD


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir):
    return make_settings(redis_server, tmp_path, weights_dir, max_image_bytes=MAX_IMAGE)


async def chunks(total: int, size: int = 64 * 1024):
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


async def test_a_declared_length_over_the_limit_is_refused_unread(client):
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", "content-type": "application/json"}
    response = await client.post("/admin/accounts", headers=admin, content=b" " * (LIMIT + 1))
    body = assert_error(response, 413, "request_too_large")
    assert str(LIMIT) in body["detail"]


async def test_a_chunked_body_is_cut_off_past_the_limit(client, auth):
    headers = {**auth, "content-type": "application/json"}
    response = await client.put("/v1/webhook", headers=headers, content=chunks(LIMIT * 3))
    assert_error(response, 413, "request_too_large")


async def test_the_surface_renders_it_its_way(client, auth):
    response = await client.post("/api/v1/upscale", headers=auth, content=b"0" * (LIMIT + 1))
    assert response.status_code == 422  # PixelForge's status for every validation error
    assert response.json()["error"] == "request_too_large"


async def test_bodies_within_the_limit_pass(client):
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    response = await client.post("/admin/accounts", headers=admin, json={"credits": 1})
    assert response.status_code == 201

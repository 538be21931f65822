"""Admin API, credits, models, health, and the envelope for routes that do not exist."""

from __future__ import annotations

import pytest

from tests.helpers.http import assert_error
from tests.helpers.runtime import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_create_account_returns_a_working_key_once(client, rt):
    response = await client.post(
        "/admin/accounts", headers=ADMIN, json={"credits": 100, "plan": "free"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["api_key"].startswith("ps_") and len(body["api_key"]) == 35
    credits = await client.get("/v1/credits", headers={"x-api-key": body["api_key"]})
    # 100 permanent credits plus the free plan's 3 a day
    assert credits.json()["credits"] == {"sub": 0, "extra": 100, "free_today": 3, "total": 103}
    # the key itself is nowhere in Redis, only its keyed hash
    for key in await rt.redis.keys(f"{rt.settings.redis_prefix}*"):
        if await rt.redis.type(key) == "hash":
            assert body["api_key"] not in (await rt.redis.hgetall(key)).values()
        assert body["api_key"] not in key


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"x-api-key": ADMIN_TOKEN}]
)
async def test_admin_needs_the_admin_token(client, headers):
    response = await client.post("/admin/accounts", headers=headers, json={"credits": 1})
    assert_error(response, 401, "invalid_admin_token")


async def test_customer_key_is_not_an_admin_token(client, auth):
    response = await client.post("/admin/accounts", headers=auth, json={"credits": 1})
    assert_error(response, 401, "invalid_admin_token")


async def test_admin_disabled_without_a_token(client, rt):
    rt.settings.admin_token = None
    assert_error(
        await client.post("/admin/accounts", headers=ADMIN, json={}), 403, "admin_disabled"
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"credits": -1}, "invalid_parameter"),
        ({"plan": "gold"}, "invalid_parameter"),
        ({"credits": "many"}, "invalid_parameter"),
    ],
)
async def test_admin_validation(client, body, code):
    assert_error(await client.post("/admin/accounts", headers=ADMIN, json=body), 400, code)


async def test_admin_invalid_json(client):
    response = await client.post(
        "/admin/accounts", headers={**ADMIN, "content-type": "application/json"}, content=b"{"
    )
    assert_error(response, 400, "invalid_json")


async def test_models_lists_each_model_and_its_weights(client):
    models = {m["name"]: m for m in (await client.get("/v1/models")).json()["models"]}
    assert {m["alias"] for m in models.values() if m["operation"] == "upscale"} == {
        "fast",
        "quality",
        "anime",
    }
    assert models["realesr-animevideov3"]["available"] is True
    assert models["dlib-face-landmarks-68"]["available"] is True  # from its wheel
    assert models["gfpgan-v1.4"]["available"] is False  # needs `photoserve weights fetch`


async def test_health(client):
    assert (await client.get("/healthz")).json() == {"ok": True, "redis": "ok"}


async def test_unknown_route_and_method_use_the_envelope(client, auth):
    assert_error(await client.get("/v1/nothing-here", headers=auth), 404, "not_found")
    assert_error(await client.delete("/v1/upscale", headers=auth), 405, "method_not_allowed")


async def test_credits_need_a_key(client):
    assert_error(await client.get("/v1/credits"), 401, "missing_key")


async def test_openapi_documents_the_upload_forms(client):
    spec = (await client.get("/openapi.json")).json()
    content = spec["paths"]["/v1/upscale"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(content)


async def test_readiness_waits_for_every_model_with_weights(rt):
    import httpx

    from serve_app import operations
    from serve_app.api.deps import Fleet
    from serve_app.ingress import create_app

    runs = {op.name: op.deployment_name for op in operations.all_operations()}

    async def check(models):
        async def provider():
            return Fleet(models, dict.fromkeys(runs.values(), "up"), runs)

        app = create_app(rt, fleet_status=provider)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.get("/readyz")

    starting = await check({"realesr-animevideov3": True})
    assert starting.status_code == 503
    assert set(starting.json()["waiting_for"]) == {
        "realesrgan-x4plus",
        "realesrgan-x4plus-anime",
        "dlib-face-landmarks-68",
    }
    ready = await check(
        dict.fromkeys(
            [
                "realesr-animevideov3",
                "realesrgan-x4plus",
                "realesrgan-x4plus-anime",
                "dlib-face-landmarks-68",
            ],
            True,
        )
    )
    assert ready.status_code == 200 and ready.json()["waiting_for"] == []
    states = ready.json()["operations"]
    assert states["upscale"] == states["enhance"] == "ready"
    assert states["restore-face"] == states["inpaint"] == "unavailable"  # no weights here


async def test_readiness_without_model_deployments_is_liveness(client):
    assert (await client.get("/readyz")).json() == {"ok": True, "redis": "ok", "waiting_for": []}

"""/docs works offline (Swagger UI from the pinned swagger-ui-bundle, no CDN), the schema
says who may call each route and what the submits take and answer, every vendor surface has
its own tag, and CORS is the operator's choice."""

from __future__ import annotations

import re

import pytest

from serve_app import operations
from serve_app.api import docs
from serve_app.core.runtime import Runtime
from tests.helpers.http import app_client
from tests.helpers.runtime import make_settings

VENDOR_TAGS = {
    "PND AI compatible",
    "PixelForge compatible",
    "PicWish compatible",
    "Perfect Corp compatible",
    "ProductAI compatible",
}


async def test_the_docs_page_loads_its_assets_from_this_server(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith(docs.ASSETS) for s in sources), sources
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 500, source
    assert "cdn" not in page.text.lower()


async def test_security_schemes_and_who_may_call_what(client):
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    assert schemes["Bearer"]["scheme"] == "bearer"
    paths = spec["paths"]
    assert paths["/v1/upscale"]["post"]["security"] == [{"ApiKey": []}, {"Bearer": []}]
    assert paths["/healthz"]["get"]["security"] == []
    assert paths["/admin/accounts"]["post"]["security"] == [{"Bearer": []}]
    download = paths["/v1/jobs/{job_id}/download"]["get"]["security"]
    assert {} in download  # a signed URL needs no key


async def test_each_submit_documents_its_inputs_and_its_answer(client):
    spec = (await client.get("/openapi.json")).json()
    for op in operations.all_operations():
        post = spec["paths"][f"/v1/{op.name}"]["post"]
        form = post["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
        assert set(op.params.model_json_schema()["properties"]) <= set(form), op.name
        assert ("image" in form) == op.takes_image, op.name
        assert ("reference_image" in form) == op.takes_reference, op.name
        assert ("mask" in form) == op.takes_mask, op.name
        assert post["responses"]["202"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Accepted"
        }
        assert post["responses"]["4XX"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    assert spec["components"]["schemas"]["Job"]["properties"]["progress"]["maximum"] == 100


async def test_every_vendor_surface_has_its_own_tag(client):
    spec = (await client.get("/openapi.json")).json()
    tags = {t for item in spec["paths"].values() for op in item.values() for t in op["tags"]}
    assert tags >= VENDOR_TAGS
    pixelforge = spec["paths"]["/api/v1/upscale"]["post"]
    assert pixelforge["tags"] == ["PixelForge compatible"]
    assert spec["paths"]["/v1/upscale"]["post"]["tags"] == ["operations"]


async def preflight(http, origin: str):
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    return await http.options("/v1/upscale", headers=headers)


async def test_cors_is_off_unless_origins_are_configured(
    client, redis_server, tmp_path, weights_dir
):
    closed = await preflight(client, "https://app.example")
    assert "access-control-allow-origin" not in closed.headers
    settings = make_settings(
        redis_server, tmp_path, weights_dir, cors_origins="https://app.example"
    )
    rt = Runtime.create(settings)
    try:
        async with app_client(rt) as http:
            allowed = await preflight(http, "https://app.example")
            other = await preflight(http, "https://evil.example")
            credits = await http.get("/v1/credits", headers={"Origin": "https://app.example"})
    finally:
        await rt.close()
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers
    assert "Retry-After" in credits.headers["access-control-expose-headers"]


async def test_the_declared_bodies_match_real_answers(client, auth):
    import jsonschema

    spec = (await client.get("/openapi.json")).json()
    for method, path in docs.BODIES:
        if "{" in path:
            continue
        declared = spec["paths"][path][method]["responses"]["200"]["content"]
        ref = declared["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        body = (await client.request(method.upper(), path, headers=auth)).json()
        jsonschema.validate(body, spec["components"]["schemas"][ref])
        broken = {k: v for k, v in body.items() if k != "ok"}  # a missing field is caught
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, spec["components"]["schemas"][ref])

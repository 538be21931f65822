"""/docs works offline (Swagger UI from the pinned swagger-ui-bundle, no CDN), the schema
says who may call each route and what the submits take and answer, every vendor surface has
its own tag, and CORS is the operator's choice."""

from __future__ import annotations

import re

import httpx
import pytest

from serve_app import operations
from serve_app.api import docs, schemas
from serve_app.core.runtime import Runtime
from serve_app.ingress import create_app
from tests.helpers.conformance import Conformance, Undeclared
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
    """The app client checks every answer against /openapi.json (tests/helpers/conformance.py);
    here each native GET without parameters is asked once, and a body missing a required
    field is caught by the same check."""
    spec = (await client.get("/openapi.json")).json()
    conformance = Conformance(spec)
    for method, path in schemas.BODIES:
        if "{" in path or method != "get":
            continue
        answer = await client.request(method.upper(), path, headers=auth)
        assert answer.status_code == 200, answer.text
        body = {k: v for k, v in answer.json().items() if k != "ok"}
        broken = httpx.Response(200, json=body, request=answer.request)
        with pytest.raises(Undeclared, match="'ok' is a required property"):
            conformance.check(broken)


def success_bodies(operation: dict) -> list[tuple[str, dict]]:
    responses = operation["responses"]
    return [
        (kind, media.get("schema", {}))
        for code, response in responses.items()
        if code.startswith("2")
        for kind, media in response.get("content", {}).items()
    ]


def described(schema: dict) -> bool:
    return bool({"$ref", "properties", "items", "anyOf"} & set(schema)) or (
        schema.get("format") == "binary"
    )


async def test_every_route_declares_its_answers_and_its_errors(client):
    spec = (await client.get("/openapi.json")).json()
    empty = {("put", "/s2s/v1.0/upload/{file_id}")}  # Perfect's upload answers no body
    routes = [(m, p, op) for p, item in spec["paths"].items() for m, op in item.items()]
    assert len(routes) > 80
    for method, path, operation in routes:
        found = success_bodies(operation)
        assert found or (method, path) in empty, f"{method} {path} declares no answer"
        for kind, schema in found:
            assert described(schema), f"{method} {path} {kind}: {schema}"
        error = operation["responses"]["4XX"]["content"]["application/json"]["schema"]
        assert described(error) and "422" not in operation["responses"]


async def test_each_surface_declares_its_own_error_body(client):
    spec = (await client.get("/openapi.json")).json()

    def error(path, method="get"):
        content = spec["paths"][path][method]["responses"]["4XX"]["content"]
        return content["application/json"]["schema"]

    assert error("/v1/credits") == error("/api/v1/jobs") == error("/api/credits/")
    assert error("/v1/credits") == {"$ref": "#/components/schemas/Error"}
    assert set(error("/s2s/v1.0/client/credit")["required"]) == {"status", "error", "error_code"}
    assert set(error("/api/tasks/visual/scale/{task_id}")["required"]) == {
        "status",
        "message",
        "code",
    }
    assert error("/v1/api/key-check")["properties"]["status"] == {"enum": ["ERROR"]}


async def test_routes_read_by_hand_describe_their_bodies(client):
    spec = (await client.get("/openapi.json")).json()
    picwish = spec["paths"]["/api/tasks/visual/scale"]["post"]["requestBody"]["content"]
    form = picwish["multipart/form-data"]["schema"]["properties"]
    assert form["image_file"]["format"] == "binary" and form["scale_factor"]["enum"] == [1, 2, 4]
    perfect = spec["paths"]["/s2s/v1.0/task/{task}"]["post"]["requestBody"]["content"]
    assert perfect["application/json"]["schema"]["required"] == ["request_id", "payload"]
    pnd = spec["paths"]["/api/upload/"]["post"]["requestBody"]["content"]
    assert {"image", "size", "model"} <= set(pnd["multipart/form-data"]["schema"]["properties"])
    productai = spec["paths"]["/v1/api/generate"]["post"]["requestBody"]["content"]
    assert productai["application/json"]["schema"]["required"] == ["model", "prompt"]


def test_every_declared_body_belongs_to_a_route():
    """A table entry whose route was renamed would declare nothing: each names a route."""
    app = create_app()
    spec = app.openapi()
    declared = dict(schemas.BODIES)
    for surface in app.state.surfaces:
        declared.update(surface.bodies)
        declared.update(surface.requests)
    missing = [(m, p) for m, p in declared if m not in spec["paths"].get(p, {})]
    assert not missing


async def test_a_wrong_answer_is_caught_by_the_suites_check(client, auth):
    """The check every test's client runs is not a no-op: a vendor's error on a native route,
    an image where JSON is declared and an undeclared success status are each caught."""
    conformance = Conformance((await client.get("/openapi.json")).json())
    request = httpx.Request("GET", "http://testserver/v1/credits")
    wrong = {"status": 401, "message": "no", "code": "missing_key"}
    with pytest.raises(Undeclared, match="required property"):
        conformance.check(httpx.Response(401, json=wrong, request=request))
    with pytest.raises(Undeclared, match="image/png is not declared"):
        conformance.check(
            httpx.Response(
                200, content=b"png", headers={"content-type": "image/png"}, request=request
            )
        )
    with pytest.raises(Undeclared, match="not declared"):
        conformance.check(httpx.Response(201, json={"ok": True}, request=request))
    conformance.check(await client.get("/v1/credits", headers=auth))


def resolve(spec: dict, link: dict) -> str:
    ref = link["operationRef"]
    assert ref.startswith("#/paths/") and ref.endswith("/get")
    path = ref[len("#/paths/") : -len("/get")].replace("~1", "/")
    assert "get" in spec["paths"][path], ref
    return path


async def test_links_lead_from_a_submit_to_its_job_and_its_result(client, auth):
    """Each submit's answer links to its job's status under the same base URL, the job to
    its result; followed on a real submit, the link names the job just made."""
    spec = (await client.get("/openapi.json")).json()
    submits = [
        p for p, item in spec["paths"].items() if "202" in item.get("post", {}).get("responses", {})
    ]
    assert len(submits) == 34
    for path in submits:
        link = spec["paths"][path]["post"]["responses"]["202"]["links"]["GetJob"]
        base = path[: path.index("/v1/")]
        assert resolve(spec, link) == base + "/v1/jobs/{job_id}"
    job = spec["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]["200"]["links"]["Download"]
    assert resolve(spec, job) == "/v1/jobs/{job_id}/download"
    link = spec["paths"]["/v1/upscale"]["post"]["responses"]["202"]["links"]["GetJob"]
    png = (await client.get("/playground/screenshot.png")).content
    queued = await client.post("/v1/upscale", headers=auth, files={"image": ("a.png", png)})
    pointer = link["parameters"]["job_id"].split("#")[1].strip("/")
    followed = await client.get(f"/v1/jobs/{queued.json()[pointer]}", headers=auth)
    assert followed.status_code == 200 and followed.json()["status"] == "queued"

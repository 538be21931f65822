"""The API's description: the submit routes' bodies (read by hand, multipart or JSON: built
from each operation's parameter model), the security schemes (Swagger's Authorize button
sends the key), each route's answers and error bodies (serve_app/api/schemas.py, a vendor
surface's own), and /docs itself, whose Swagger UI assets come from a pinned package
(fastapi-swagger), never from a CDN."""

from __future__ import annotations

from typing import Any

from serve_app.api import schemas
from serve_app.api.surface import Surface, for_path
from serve_app.operations import Operation

JOB = schemas.ref("Job")

_FROM_JOB = {
    "from_job": {
        "type": "string",
        "description": "instead of an image: a finished job of yours whose result is the input",
    }
}
_IMAGE_JSON = {
    "image_base64": {"type": "string", "description": "with or without data: prefix"},
    "image_url": {"type": "string", "format": "uri"},
    **_FROM_JOB,
}
_MASK = {
    "multipart": {"mask": {"type": "string", "format": "binary", "description": "white = change"}},
    "json": {
        "mask_base64": {"type": "string", "description": "white = change"},
        "mask_url": {"type": "string", "format": "uri"},
    },
}


def parameters(op: Operation) -> dict[str, Any]:
    return schemas.fields(op.params)


_REFERENCE = {
    "multipart": {
        "reference_image": {
            "type": "string",
            "format": "binary",
            "description": "the second photo",
        }
    },
    "json": {
        "reference_image_base64": {"type": "string"},
        "reference_image_url": {"type": "string", "format": "uri"},
    },
}
_NONE: dict[str, dict] = {"multipart": {}, "json": {}}


def submit_doc(op: Operation) -> dict:
    params = parameters(op)
    mask = _MASK if op.takes_mask else _NONE
    reference = _REFERENCE if op.takes_reference else _NONE
    image = {"image": {"type": "string", "format": "binary"}, **_FROM_JOB}
    if not op.takes_image:
        image, image_json = {}, {}
    else:
        image_json = _IMAGE_JSON
    multipart = {**image, **mask["multipart"], **reference["multipart"], **params}
    json_body = {**image_json, **mask["json"], **reference["json"], **params}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": multipart}},
                "application/json": {"schema": {"type": "object", "properties": json_body}},
            },
        },
        "responses": {
            "202": {"description": "queued", "content": schemas.json(schemas.ref("Accepted"))},
            "200": {
                "description": "finished within ?wait (its image with `Accept: image/*`)",
                "content": {**schemas.json(JOB), **schemas.IMAGE},
            },
        },
    }


SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "Bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key, the admin token (/admin) or a Perfect Corp access token",
    },
}
KEYED = [{"ApiKey": []}, {"Bearer": []}]
PUBLIC = ("/healthz", "/readyz", "/v1/styles", "/s2s/v1.0/client/auth", "/docs", "/openapi")
OPTIONAL_KEY = ("/download", "/faces/", "/s2s/v1.0/file/")  # signed URLs work without a key


def security_for(path: str) -> list[dict]:
    if path.startswith(PUBLIC):
        return []
    if path.startswith("/admin"):
        return [{"Bearer": []}]
    if any(part in path for part in OPTIONAL_KEY):
        return [{}, *KEYED]
    return KEYED


def describe(schema: dict, surfaces: list[Surface] = ()) -> dict:
    """FastAPI's schema plus what it cannot know: who may call each route, each route's
    answers (schemas.BODIES, a surface's own) and the error body of the surface it is on
    (native: `Error`), the request bodies a surface reads by hand, and a surface's tag for
    the native routes it mounts again."""
    _components(schema.setdefault("components", {}))
    answers = {**schemas.BODIES, **{k: v for s in surfaces for k, v in s.bodies.items()}}
    requests = {k: v for s in surfaces for k, v in s.requests.items()}
    for path, item in schema.get("paths", {}).items():
        surface = for_path(list(surfaces), path)
        for method, operation in item.items():
            _surface(operation, path, surface)
            _answer(operation, answers.get((method, path)))
            if (method, path) in requests:
                operation["requestBody"] = requests[(method, path)]
            _links(operation, path)
    return schema


JOB_PATH = "/v1/jobs/{job_id}"
# a body that names a job -> (the link's name, where it leads)
LEADS = {
    "Accepted": ("GetJob", JOB_PATH),
    "Job": ("Download", JOB_PATH + "/download"),
}


def _links(operation: dict, path: str) -> None:
    """A queued job leads to its status and a job to its result (OpenAPI links: client
    generators and Schemathesis' stateful phase follow them), under the same base URL."""
    if "/v1/" not in path:
        return
    base = path[: path.index("/v1/")]
    for response in operation.get("responses", {}).values():
        body = response.get("content", {}).get("application/json", {}).get("schema", {})
        lead = LEADS.get(body.get("$ref", "").rsplit("/", 1)[-1])
        if lead is not None:
            name, target = lead
            ref = "#/paths/" + (base + target).replace("/", "~1") + "/get"
            links = response.setdefault("links", {})
            links[name] = {"operationRef": ref, "parameters": {"job_id": "$response.body#/job_id"}}


def _components(components: dict) -> None:
    components["securitySchemes"] = SECURITY_SCHEMES
    named = components.setdefault("schemas", {})
    named.update(schemas.SCHEMAS)
    for unused in ("HTTPValidationError", "ValidationError"):
        named.pop(unused, None)


def _surface(operation: dict, path: str, surface: Surface | None) -> None:
    """Who may call it, its tag and its errors: those of the surface it is on."""
    operation["security"] = security_for(path)
    if surface is not None and surface.tag:
        operation["tags"] = [surface.tag]
    _errors(operation, surface.error if surface and surface.error else ERROR)


ERROR = schemas.ref("Error")


def _errors(operation: dict, error: dict) -> None:
    """Every refusal in the surface's error body; FastAPI's own 422 body (invalid
    parameters) is not what we answer either."""
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    responses["4XX"] = {"description": "refused", "content": schemas.json(error)}


def _answer(operation: dict, content: dict | None) -> None:
    """The success body: replaces FastAPI's, which knows only `dict`."""
    if content is None:
        return
    responses = operation.setdefault("responses", {})
    status = next((code for code in responses if code.startswith("2")), "200")
    responses[status] = {"description": responses.get(status, {}).get("description", "OK")}
    if content:  # none: an empty body
        responses[status]["content"] = content


def swagger_page(title: str) -> str:
    """/docs on the bundled Swagger UI (the Authorize button sends the key it is given)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=f"{title} API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
    ).body.decode()


ASSETS = "/docs/assets"
# what a browser client on another origin may read (CORS)
EXPOSED_HEADERS = [
    "Retry-After",
    "Idempotent-Replayed",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]


def assets_dir() -> str:
    """Swagger UI 5's files as fastapi-swagger ships them (its 5.x reads OpenAPI 3.1, which
    FastAPI writes; swagger-ui-bundle's 4.15 does not)."""
    from importlib import resources

    return str(resources.files("fastapi_swagger") / "resources")

"""The API's description: the submit routes' bodies (read by hand, multipart or JSON: built
from each operation's parameter model), the security schemes (Swagger's Authorize button
sends the key), the error envelope and the main response bodies, and /docs itself, whose
Swagger UI assets come from a pinned package (fastapi-swagger), never from a CDN."""

from __future__ import annotations

from typing import Any

from serve_app.operations import Operation

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


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's schema without pydantic's titles and `null` alternatives."""
    options = [s for s in schema.get("anyOf", ()) if s.get("type") != "null"]
    if len(options) == 1:
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **options[0]}
    return {k: v for k, v in schema.items() if k != "title" and v not in (None, "")}


def parameters(op: Operation) -> dict[str, Any]:
    schema = op.params.model_json_schema()
    return {name: _plain(field) for name, field in schema["properties"].items()}


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
        "responses": {"202": {"description": "queued", **json_ref("Accepted")}},
    }


def json_ref(name: str) -> dict:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


_ERROR = {
    "type": "object",
    "required": ["ok", "error", "detail"],
    "properties": {
        "ok": {"type": "boolean", "enum": [False]},
        "error": {"type": "string", "description": "a code of README's error table"},
        "detail": {"type": "string", "description": "one sentence for a person"},
    },
}
_ACCEPTED = {
    "type": "object",
    "required": ["ok", "job_id", "status", "cost"],
    "properties": {
        "ok": {"type": "boolean"},
        "job_id": {"type": "string"},
        "status": {"type": "string", "enum": ["queued"]},
        "cost": {"type": "integer", "description": "credits charged if it finishes"},
        "remaining": {"type": "integer", "description": "credits left, this job's held"},
    },
}
_JOB = {
    "type": "object",
    "required": ["ok", "job_id", "status", "operation", "progress"],
    "properties": {
        "ok": {"type": "boolean"},
        "job_id": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "processing", "done", "failed"]},
        "operation": {"type": "string"},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "cost": {"type": "integer"},
        "width": {"type": ["integer", "null"]},
        "height": {"type": ["integer", "null"]},
        "result_url": {"type": "string", "description": "signed; works without the key"},
        "error": {"type": "object", "properties": {"code": {}, "detail": {}}},
        "polling_interval": {"type": "number", "description": "seconds until the next poll"},
    },
}


def _object(required: dict[str, dict], **optional: dict) -> dict:
    """A JSON object schema: `required` fields and their schemas, then optional ones."""
    return {"type": "object", "required": list(required), "properties": {**required, **optional}}


_INT, _STR, _BOOL = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
_CREDITS = _object(
    {
        "ok": _BOOL,
        "account_id": _STR,
        "user_type": _STR,
        "credits": _object({"sub": _INT, "extra": _INT, "free_today": _INT, "total": _INT}),
        "held": _INT,
        "today": _object({"used": _INT, "limit": _INT}),
    }
)
_KEY_CHECK = _object({"ok": _BOOL, "valid": _BOOL, "plan": _STR, "tokens_remaining": _INT})
_JOB_ROW = _object(
    {"job_id": _STR, "operation": _STR, "status": _STR, "cost": _INT, "created": {"type": "number"}}
)
_JOBS = _object(
    {
        "ok": _BOOL,
        "jobs": {"type": "array", "items": _JOB_ROW},
        "next_before": {"type": ["number", "null"]},
    }
)
_MODEL = _object(
    {
        "name": _STR,
        "operation": _STR,
        "available": _BOOL,
        "loaded": {"type": ["boolean", "null"]},
    }
)
_MODELS = _object({"ok": _BOOL, "models": {"type": "array", "items": _MODEL}})
_ARRAY = {"type": "array"}
_OBJ = {"type": "object"}
_DAY = _object({"date": _STR, "count": _INT, "credits": _INT})
_STATS = _object(
    {
        "ok": _BOOL,
        "period_days": _INT,
        "totals": _object({k: _INT for k in ("all", "done", "error", "queued", "credits_used")}),
        "by_operation": _OBJ,
        "by_size": _OBJ,
        "daily": {"type": "array", "items": _DAY},
        "recent": _ARRAY,
    }
)
_WEBHOOK = _object(
    {"ok": _BOOL, "url": {"type": ["string", "null"]}, "enabled": _BOOL, "secret_set": _BOOL}
)
_CLIENTS = _object(
    {
        "ok": _BOOL,
        "clients": {"type": "array", "items": _object({"client_id": _STR, "created_at": _STR})},
    }
)
_STYLE = _object({"id": _INT, "title": _STR, "strength": {"type": "number"}})
_GROUP = _object({"id": _INT, "title": _STR, "styles": {"type": "array", "items": _STYLE}})
_STYLES = _object({"ok": _BOOL, "task": _STR, "groups": {"type": "array", "items": _GROUP}})
_HEALTH = _object({"ok": _BOOL, "redis": _STR})
_READY = _object({"ok": _BOOL, "redis": _STR, "waiting_for": _ARRAY}, operations=_OBJ)
# route -> the name of its 200 body in components/schemas, and the body
BODIES = {
    ("get", "/v1/jobs/{job_id}"): "Job",
    ("get", "/v1/credits"): "Credits",
    ("get", "/v1/key-check"): "KeyCheck",
    ("get", "/v1/jobs"): "Jobs",
    ("get", "/v1/models"): "Models",
    ("get", "/v1/stats"): "Stats",
    ("get", "/v1/webhook"): "Webhook",
    ("get", "/v1/webhook/deliveries"): "Deliveries",
    ("get", "/v1/custom-models"): "CustomModels",
    ("get", "/v1/client-credentials"): "ClientCredentials",
    ("get", "/v1/styles/{task}"): "Styles",
    ("get", "/healthz"): "Health",
    ("get", "/readyz"): "Ready",
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


def native(path: str) -> bool:
    return path.startswith(("/v1/", "/admin/")) and not path.startswith("/v1/api/")


def describe(schema: dict, tags: dict[str, str] | None = None) -> dict:
    """FastAPI's schema plus what it cannot know: who may call each route, the native error
    envelope on every native route, the bodies of a submit and a job, and `tags`: path
    prefix -> the one tag of the routes under it (a vendor's mount of native routes)."""
    components = schema.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    schemas.update(Error=_ERROR, Accepted=_ACCEPTED, Job=_JOB, Credits=_CREDITS)
    schemas.update(KeyCheck=_KEY_CHECK, Jobs=_JOBS, Models=_MODELS, Stats=_STATS)
    schemas.update(Webhook=_WEBHOOK, ClientCredentials=_CLIENTS, Styles=_STYLES)
    schemas.update(Health=_HEALTH, Ready=_READY)
    schemas.update(Deliveries=_object({"ok": _BOOL, "deliveries": _ARRAY}))
    schemas.update(CustomModels=_object({"ok": _BOOL, "models": _ARRAY}))
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            operation["security"] = security_for(path)
            _our_validation_errors(operation)
            for prefix, tag in (tags or {}).items():
                if path.startswith(prefix):
                    operation["tags"] = [tag]
            if native(path):
                responses = operation.setdefault("responses", {})
                responses.setdefault("4XX", {"description": "refused", **json_ref("Error")})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for (method, path), name in BODIES.items():
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            operation["responses"]["200"] = {"description": name, **json_ref(name)}
    return schema


def _our_validation_errors(operation: dict) -> None:
    """FastAPI documents its own 422 body for invalid parameters; ours is the error envelope
    (400 natively, 422 where a surface says so)."""
    response = operation.get("responses", {}).get("422")
    if response is not None and "HTTPValidationError" in str(response):
        response.update(description="invalid parameters", **json_ref("Error"))


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

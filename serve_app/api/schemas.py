"""The JSON Schemas of the native API's answers, the builders vendor packages use for their
own, and which route answers which body: /openapi.json declares them (docs.describe), and
Schemathesis and the test suite check real answers against them."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
Content = dict[str, Any]  # media type -> {"schema": ...}: one response's possible bodies
Route = tuple[str, str]  # (method, path as the router declares it)

INT, STR, BOOL, NUM = (
    {"type": "integer"},
    {"type": "string"},
    {"type": "boolean"},
    {"type": "number"},
)
OBJECT, ARRAY = {"type": "object"}, {"type": "array"}
BINARY = {"type": "string", "format": "binary"}


def obj(required: dict[str, Schema], **optional: Schema) -> Schema:
    """A JSON object: `required` fields and their schemas, then optional ones."""
    return {"type": "object", "required": list(required), "properties": {**required, **optional}}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return {**schema, "type": [schema["type"], "null"]}


def one_of(*values: Any) -> Schema:
    return {"enum": list(values)}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def json(schema: Schema) -> Content:
    return {"application/json": {"schema": schema}}


def fields(model: type) -> dict[str, Schema]:
    """A pydantic model's fields as request-body properties."""
    schema = model.model_json_schema()
    return {name: _plain(field) for name, field in schema["properties"].items()}


def _plain(schema: Schema) -> Schema:
    """A field's schema without pydantic's titles and `null` alternatives."""
    options = [s for s in schema.get("anyOf", ()) if s.get("type") != "null"]
    if len(options) == 1:
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **options[0]}
    return {k: v for k, v in schema.items() if k != "title" and v not in (None, "")}


def request(json: Schema | None = None, multipart: Schema | None = None) -> dict:
    """A required request body, as JSON, a multipart form or either."""
    kinds = {"application/json": json, "multipart/form-data": multipart}
    return {"required": True, "content": {k: {"schema": v} for k, v in kinds.items() if v}}


IMAGE: Content = {kind: {"schema": BINARY} for kind in ("image/png", "image/jpeg", "image/webp")}
STAMP = nullable(STR)  # an ISO 8601 moment, or null before it happens

ERROR = obj(
    {
        "ok": {"type": "boolean", "enum": [False]},
        "error": {"type": "string", "description": "a code of README's error table"},
        "detail": {"type": "string", "description": "one sentence for a person"},
    }
)
ACCEPTED = obj(
    {
        "ok": BOOL,
        "job_id": STR,
        "status": one_of("queued"),
        "cost": {"type": "integer", "description": "credits charged if it finishes"},
    },
    remaining={"type": "integer", "description": "credits left, this job's held"},
)
JOB = obj(
    {
        "ok": BOOL,
        "job_id": STR,
        "status": one_of("queued", "processing", "done", "failed"),
        "operation": STR,
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
    },
    cost=INT,
    created_at=STAMP,
    started_at=STAMP,
    completed_at=STAMP,
    width=nullable(INT),
    height=nullable(INT),
    params=OBJECT,
    result_url={"type": "string", "description": "signed; works without the key"},
    seed=INT,
    deducted_this_call={"type": "boolean", "description": "true on the poll that charged it"},
    countfaces=INT,
    face_urls=array(STR),
    error=obj({"code": STR, "detail": STR}),
    polling_interval={"type": "number", "description": "seconds until the next poll"},
)
BUCKETS = obj({"sub": INT, "extra": INT, "free_today": INT, "total": INT})
CREDITS = obj(
    {
        "ok": BOOL,
        "account_id": STR,
        "user_type": STR,
        "credits": BUCKETS,
        "held": INT,
        "today": obj({"used": INT, "limit": INT}),
    }
)
KEY_CHECK = obj({"ok": BOOL, "valid": BOOL, "plan": STR, "tokens_remaining": INT})
ROTATED = obj({"ok": BOOL, "old_key_prefix": STR, "new_key": STR, "rotated_at": STR})
JOB_ROW = obj({"job_id": STR, "operation": STR, "status": STR, "cost": INT, "created": NUM})
JOBS = obj({"ok": BOOL, "jobs": array(JOB_ROW), "next_before": nullable(NUM)})
MODEL = obj({"name": STR, "operation": STR, "available": BOOL, "loaded": nullable(BOOL)})
MODELS = obj({"ok": BOOL, "models": array(MODEL)})
STATS = obj(
    {
        "ok": BOOL,
        "period_days": INT,
        "totals": obj(dict.fromkeys(("all", "done", "error", "queued", "credits_used"), INT)),
        "by_operation": OBJECT,
        "by_size": OBJECT,
        "daily": array(obj({"date": STR, "count": INT, "credits": INT})),
        "recent": ARRAY,
    }
)
WEBHOOK = obj({"ok": BOOL, "url": nullable(STR), "enabled": BOOL, "secret_set": BOOL})
WEBHOOK_SET = obj(
    {"ok": BOOL, "url": nullable(STR), "enabled": BOOL},
    secret={"type": "string", "description": "generated: shown this once"},
)
DELIVERIES = obj({"ok": BOOL, "deliveries": ARRAY})
CLIENTS = obj({"ok": BOOL, "clients": array(obj({"client_id": STR, "created_at": STR}))})
NEW_CLIENT = obj({"ok": BOOL, "client_id": STR, "client_secret": STR})
REVOKED = obj({"ok": BOOL, "client_id": STR, "revoked": one_of(True)})
CUSTOM_MODEL = obj(
    {"model": STR, "name": STR, "base_model": STR, "trigger_words": ARRAY, "size": INT},
    ok=BOOL,
    sha256=STR,
    rank=nullable(INT),
    public=BOOL,
)
CUSTOM_MODELS = obj({"ok": BOOL, "models": array(CUSTOM_MODEL)})
DELETED_MODEL = obj({"ok": BOOL, "model": STR, "deleted": one_of(True)})
STYLE = obj({"id": INT, "title": STR, "strength": NUM})
STYLES = obj(
    {
        "ok": BOOL,
        "task": STR,
        "groups": array(obj({"id": INT, "title": STR, "styles": array(STYLE)})),
    }
)
HEALTH = obj({"ok": BOOL, "redis": STR})
READY = obj({"ok": BOOL, "redis": STR, "waiting_for": ARRAY}, operations=OBJECT)
ACCOUNT = obj(
    {
        "ok": BOOL,
        "account_id": STR,
        "plan": STR,
        "locked": BOOL,
        "created_at": STAMP,
        "credits": BUCKETS,
        "held": INT,
    },
    webhook_url=nullable(STR),
    grant_id=nullable(STR),
)
NEW_ACCOUNT = obj({"ok": BOOL, "account_id": STR, "api_key": STR, "plan": STR, "credits": INT})
LEDGER = obj({"ok": BOOL, "entries": array(obj({"id": STR, "type": STR, "amount": STR}))})
AUDIT = obj(
    {"account_id": STR, "ok": BOOL, "totals": OBJECT, "held": INT, "problems": ARRAY},
    available=INT,
)

SCHEMAS: dict[str, Schema] = {
    "Error": ERROR,
    "Accepted": ACCEPTED,
    "Job": JOB,
    "Credits": CREDITS,
    "KeyCheck": KEY_CHECK,
    "Jobs": JOBS,
    "Models": MODELS,
    "Stats": STATS,
    "Webhook": WEBHOOK,
    "Deliveries": DELIVERIES,
    "ClientCredentials": CLIENTS,
    "CustomModel": CUSTOM_MODEL,
    "CustomModels": CUSTOM_MODELS,
    "Styles": STYLES,
    "Health": HEALTH,
    "Ready": READY,
    "Account": ACCOUNT,
}
# every native route that is not a submit -> its success body
BODIES: dict[Route, Content] = {
    ("get", "/v1/jobs/{job_id}"): json(ref("Job")),
    ("get", "/v1/jobs"): json(ref("Jobs")),
    ("get", "/v1/jobs/{job_id}/download"): IMAGE,
    ("get", "/v1/jobs/{job_id}/faces/{index}"): IMAGE,
    ("get", "/v1/credits"): json(ref("Credits")),
    ("get", "/v1/key-check"): json(ref("KeyCheck")),
    ("post", "/v1/keys/rotate"): json(ROTATED),
    ("get", "/v1/models"): json(ref("Models")),
    ("get", "/v1/stats"): json(ref("Stats")),
    ("get", "/v1/webhook"): json(ref("Webhook")),
    ("put", "/v1/webhook"): json(WEBHOOK_SET),
    ("get", "/v1/webhook/deliveries"): json(ref("Deliveries")),
    ("get", "/v1/custom-models"): json(ref("CustomModels")),
    ("post", "/v1/custom-models"): json(ref("CustomModel")),
    ("delete", "/v1/custom-models/{name}"): json(DELETED_MODEL),
    ("get", "/v1/client-credentials"): json(ref("ClientCredentials")),
    ("post", "/v1/client-credentials"): json(NEW_CLIENT),
    ("delete", "/v1/client-credentials/{client_id}"): json(REVOKED),
    ("get", "/v1/styles/{task}"): json(ref("Styles")),
    ("get", "/v1/styles/{task}/{style_id}/thumb"): IMAGE,
    ("get", "/healthz"): json(ref("Health")),
    ("get", "/readyz"): json(ref("Ready")),
    ("post", "/admin/accounts"): json(NEW_ACCOUNT),
    ("get", "/admin/accounts/{account_id}"): json(ref("Account")),
    ("post", "/admin/accounts/{account_id}/lock"): json(ref("Account")),
    ("post", "/admin/accounts/{account_id}/unlock"): json(ref("Account")),
    ("put", "/admin/accounts/{account_id}/plan"): json(ref("Account")),
    ("post", "/admin/accounts/{account_id}/grants"): json(ref("Account")),
    ("get", "/admin/accounts/{account_id}/ledger"): json(LEDGER),
    ("get", "/admin/accounts/{account_id}/audit"): json(AUDIT),
    ("post", "/admin/custom-models/publish"): json(ref("CustomModel")),
}


def mounted(prefix: str, bodies: dict[Route, Content]) -> dict[Route, Content]:
    """The same bodies for routes mounted again under `prefix` (a vendor's base URL)."""
    return {(method, prefix + path): content for (method, path), content in bodies.items()}

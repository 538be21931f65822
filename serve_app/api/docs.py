"""OpenAPI descriptions of the submit routes, which read their body by hand (multipart or
JSON): built from each operation's parameter model."""

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


def submit_doc(op: Operation) -> dict:
    params = parameters(op)
    mask = _MASK if op.takes_mask else {"multipart": {}, "json": {}}
    image = {"image": {"type": "string", "format": "binary"}, **_FROM_JOB}
    multipart = {**image, **mask["multipart"], **params}
    json_body = {**_IMAGE_JSON, **mask["json"], **params}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": multipart}},
                "application/json": {"schema": {"type": "object", "properties": json_body}},
            },
        }
    }

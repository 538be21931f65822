"""Schemathesis checks for photoserve (loaded with SCHEMATHESIS_HOOKS): no 5xx but the
documented 503s, and every 4xx in the envelope of the surface it came from (native and
PixelForge: `{"ok": false, "error", "detail"}`; the other vendors: a JSON object)."""

from __future__ import annotations

from typing import Any

import schemathesis

DOCUMENTED_503 = {"model_unavailable", "service_unavailable"}
NATIVE = ("/v1/", "/admin/", "/api/v1/")


def body_of(response) -> Any:
    try:
        return response.json()
    except Exception:
        return None


def native(path: str) -> bool:
    return path.startswith(NATIVE) and not path.startswith("/v1/api/")


@schemathesis.check
def documented_server_errors(ctx, response, case):
    """A 5xx only as a documented 503 (no weights here, Redis away)."""
    if response.status_code < 500:
        return None
    body = body_of(response) or {}
    error = body.get("error") if isinstance(body, dict) else None
    if response.status_code == 503 and error in DOCUMENTED_503:
        return None
    raise AssertionError(f"undocumented {response.status_code}: {str(body)[:300]}")


@schemathesis.check
def error_envelope(ctx, response, case):
    """A 4xx is its surface's error body, never a trace or an empty page."""
    if not 400 <= response.status_code < 500:
        return None
    body = body_of(response)
    path = case.operation.path
    if native(path):
        ok = isinstance(body, dict) and body.get("ok") is False
        ok = ok and isinstance(body.get("error"), str) and isinstance(body.get("detail"), str)
        assert ok, f"{response.status_code} on {path} outside the envelope: {str(body)[:300]}"
    else:
        assert isinstance(body, dict) and body, f"{response.status_code} on {path}: {body!r}"
    return None

"""Assertions on HTTP answers."""

from __future__ import annotations

import base64

import httpx


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_error(response: httpx.Response, status: int, code: str):
    """The documented envelope: `{"ok": false, "error": code, "detail": sentence}`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False and body["error"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body

"""Standard Webhooks signatures (https://www.standardwebhooks.com), for photoserve and for
the receivers of its webhooks. Only the standard library.

Receiver:

    from photoserve.webhooks import verify, InvalidSignature
    try:
        event = verify(request.body, request.headers, secret)   # returns the parsed JSON
    except InvalidSignature:
        return 401

Signed content: "{webhook-id}.{webhook-timestamp}.{body}", HMAC-SHA256, base64, sent as
`webhook-signature: v1,<signature>`. Secrets of the form `whsec_<base64>` are decoded as the
standard says; any other secret is used as its UTF-8 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

TOLERANCE_S = 300


class InvalidSignature(ValueError):
    pass


def secret_bytes(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_") :])
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise InvalidSignature(f"missing header {name}")


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    tolerance_s: int = TOLERANCE_S,
    now: float | None = None,
) -> Any:
    """Check the signature and the timestamp (±tolerance); returns the parsed JSON body."""
    payload = body.encode() if isinstance(body, str) else body
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    if not stamp.isdigit():
        raise InvalidSignature("bad timestamp")
    now = time.time() if now is None else now
    if abs(now - int(stamp)) > tolerance_s:
        raise InvalidSignature("timestamp outside the tolerance")
    expected = sign(secret, msg_id, int(stamp), payload).encode()
    offered = _header(headers, "webhook-signature").split()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in offered):
        raise InvalidSignature("no matching signature")
    return json.loads(payload)

"""API keys: `ps_` + 32 url-safe random characters, stored only as an HMAC-SHA256 digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "ps_"
_BODY_LEN = 32


def generate_key() -> str:
    return PREFIX + secrets.token_urlsafe(48)[:_BODY_LEN]


def hash_key(secret: str, api_key: str) -> str:
    return hmac.new(secret.encode(), api_key.encode(), hashlib.sha256).hexdigest()


def looks_like_key(api_key: str) -> bool:
    return 0 < len(api_key) <= 200 and api_key.isprintable()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

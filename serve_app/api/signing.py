"""Signed result URLs: `...?exp=<epoch s>&sig=<hmac>` opens one job's result until `exp`,
without the API key, so it can sit in an <img src>. HMAC-SHA256 over "job_id.exp" with the
server's URL secret, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac


def signature(secret: str, job_id: str, expires: int) -> str:
    digest = hmac.new(secret.encode(), f"{job_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def valid(secret: str, job_id: str, expires: str | None, sig: str | None, now: float) -> bool:
    if not expires or not sig or not expires.isdigit() or int(expires) < now:
        return False
    return hmac.compare_digest(signature(secret, job_id, int(expires)).encode(), sig.encode())


def signed_query(secret: str, job_id: str, expires: int) -> str:
    return f"exp={expires}&sig={signature(secret, job_id, expires)}"

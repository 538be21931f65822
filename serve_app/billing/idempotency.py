"""Idempotency-Key (IETF draft semantics), scoped per account, kept 24 h.

Same key + same payload -> the original response, no second job or reservation; same key +
different payload -> 422; same key while the first request is still being accepted -> 409.
The claim is a short-lived "pending" record; the final record is written by the submit
script itself, atomically with the job and its credits, so a crash in between can never
leave a charged job without its replay record (or the reverse).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from serve_app.core.errors import IdempotencyInProgress, IdempotencyMismatch, InvalidParameter
from serve_app.core.runtime import Runtime
from serve_app.engine.jobs import Idempotency

TTL_S = 24 * 3600
PENDING_TTL_MS = 60_000
MAX_KEY_LEN = 255


@dataclass
class Claim:
    key: str
    replay: dict[str, Any] | None = None

    def record(self, body: dict[str, Any]) -> Idempotency:
        return Idempotency(self.key, TTL_S, orjson.dumps(body).decode())


def fingerprint(path: str, params: dict[str, Any], image: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(path.encode())
    digest.update(orjson.dumps(params, option=orjson.OPT_SORT_KEYS, default=str))
    digest.update(hashlib.sha256(image).digest())
    return digest.hexdigest()


async def claim(rt: Runtime, account_id: str, key: str | None, print_: str) -> Claim | None:
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LEN or not key.isprintable():
        raise InvalidParameter(f"Idempotency-Key must be 1 to {MAX_KEY_LEN} printable characters.")
    redis_key = rt.keys.idempotency(account_id, hashlib.sha256(key.encode()).hexdigest())
    outcome = await rt.scripts.idem_claim(keys=[redis_key], args=[print_, PENDING_TTL_MS])
    state = outcome[0]
    if state == "mismatch":
        raise IdempotencyMismatch()
    if state == "pending":
        raise IdempotencyInProgress(headers={"Retry-After": "1"})
    if state == "done":
        return Claim(redis_key, {**orjson.loads(outcome[1]), "remaining": int(outcome[2])})
    return Claim(redis_key)


async def abandon(rt: Runtime, claimed: Claim | None) -> None:
    """The request failed before a job existed: free the key for a retry."""
    if claimed is not None and claimed.replay is None:
        await rt.scripts.idem_abandon(keys=[claimed.key])

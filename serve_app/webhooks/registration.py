"""Per-account webhook registration and the delivery log (delivery: delivery.py)."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import orjson

from serve_app.core.errors import InvalidParameter
from serve_app.core.fetch import check_url
from serve_app.core.runtime import Runtime

MAX_URL_LEN = 2048


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


STANDARD = "standard"  # Standard Webhooks headers; a vendor surface registers its own style


async def register(
    rt: Runtime, account_id: str, url: str, secret: str | None, style: str = STANDARD
) -> dict[str, Any]:
    """Set (or with an empty url, remove) the account's webhook. Returns what to show once.
    `style`: how its deliveries are rendered (webhooks/delivery.py)."""
    fields = ("webhook_url", "webhook_secret", "webhook_style")
    if not url:
        await rt.redis.hdel(rt.keys.account(account_id), *fields)
        return {"ok": True, "url": None, "enabled": False}
    if len(url) > MAX_URL_LEN:
        raise InvalidParameter(f"url is longer than {MAX_URL_LEN} characters.")
    await check_url(url, rt.settings.allow_private_urls, what="url")
    if secret is not None and not 8 <= len(secret) <= 256:
        raise InvalidParameter("secret must be 8 to 256 characters.")
    generated = secret is None
    secret = secret or new_secret()
    mapping = {"webhook_url": url, "webhook_secret": secret, "webhook_style": style}
    await rt.redis.hset(rt.keys.account(account_id), mapping=mapping)
    body = {"ok": True, "url": url, "enabled": True}
    if generated:
        body["secret"] = secret  # shown once
    return body


async def current(rt: Runtime, account_id: str) -> dict[str, Any]:
    url, secret = await rt.redis.hmget(
        rt.keys.account(account_id), ["webhook_url", "webhook_secret"]
    )
    return {"ok": True, "url": url, "enabled": bool(url), "secret_set": bool(secret)}


async def log_delivery(rt: Runtime, account_id: str, record: dict[str, Any]) -> None:
    key = rt.keys.webhook_log(account_id)
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.lpush(key, orjson.dumps(record))
        pipe.ltrim(key, 0, rt.settings.webhook_log_size - 1)
        await pipe.execute()


async def deliveries(rt: Runtime, account_id: str, count: int) -> list[dict[str, Any]]:
    rows = await rt.redis.lrange(rt.keys.webhook_log(account_id), 0, count - 1)
    return [orjson.loads(row) for row in rows]

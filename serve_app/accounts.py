"""Accounts and the key that opens each one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from serve_app import clock
from serve_app.keys import generate_key, hash_key
from serve_app.runtime import Runtime


@dataclass(frozen=True)
class Account:
    id: str
    plan: str
    locked: bool


def new_account_id() -> str:
    return "acct_" + secrets.token_hex(8)


async def create(rt: Runtime, credits: int, plan: str) -> tuple[str, str]:
    """Create an account holding `credits`; returns (account_id, api_key). The key is not kept."""
    account_id = new_account_id()
    api_key = generate_key()
    key_hash = hash_key(rt.settings.key_secret, api_key)
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.hset(
            rt.keys.account(account_id),
            mapping={"plan": plan, "locked": 0, "created_at": clock.now(), "key_hash": key_hash},
        )
        pipe.set(rt.keys.api_key(key_hash), account_id)
        pipe.hset(rt.keys.credits(account_id), mapping={"balance": credits, "held": 0})
        await pipe.execute()
    return account_id, api_key


async def by_key(rt: Runtime, api_key: str) -> Account | None:
    key_hash = hash_key(rt.settings.key_secret, api_key)
    account_id = await rt.redis.get(rt.keys.api_key(key_hash))
    if account_id is None:
        return None
    fields = await rt.redis.hmget(rt.keys.account(account_id), ["plan", "locked", "key_hash"])
    plan, locked, stored_hash = fields
    if plan is None or stored_hash != key_hash:
        return None
    return Account(account_id, plan, locked == "1")

"""Accounts and the key that opens each one (stored only as a keyed hash)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from serve_app.billing import credits
from serve_app.billing.account_cache import AccountCache
from serve_app.billing.apikeys import generate_key, hash_key, same
from serve_app.core.runtime import Runtime


class AccountMissing(KeyError):
    pass


@dataclass(frozen=True)
class Account:
    id: str
    plan: str
    locked: bool


def new_account_id() -> str:
    return "acct_" + secrets.token_hex(8)


async def create(rt: Runtime, amount: int, plan: str) -> tuple[str, str]:
    """Create an account holding `amount` permanent credits; returns (account_id, api_key).
    The key itself is not kept."""
    account_id = new_account_id()
    api_key = generate_key()
    key_hash = hash_key(rt.settings.key_secret, api_key)
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.hset(
            rt.keys.account(account_id),
            mapping={"plan": plan, "locked": 0, "created_at": rt.clock(), "key_hash": key_hash},
        )
        pipe.set(rt.keys.api_key(key_hash), account_id)
        pipe.zadd(rt.keys.accounts, {account_id: rt.clock()})
        await pipe.execute()
    if amount > 0:
        await credits.grant(rt, account_id, amount, "extra", note="account created")
    return account_id, api_key


async def by_key(rt: Runtime, api_key: str) -> Account | None:
    key_hash = hash_key(rt.settings.key_secret, api_key)
    cached = rt.part(AccountCache).get(key_hash)
    if cached is not None:
        return Account(cached.account_id, cached.plan, cached.locked)
    found = await rt.scripts.account_by_key(
        keys=[rt.keys.api_key(key_hash)], args=[rt.keys.account("")]
    )
    if not found:
        return None
    account_id, plan, locked, stored_hash = found
    if not plan or not same(stored_hash, key_hash):
        return None
    rt.part(AccountCache).put(key_hash, account_id, plan, locked == "1")
    return Account(account_id, plan, locked == "1")


async def get(rt: Runtime, account_id: str) -> dict[str, str]:
    fields = await rt.redis.hgetall(rt.keys.account(account_id))
    if not fields:
        raise AccountMissing(account_id)
    fields.pop("key_hash", None)
    return {"account_id": account_id, **fields}


async def update(rt: Runtime, account_id: str, **fields) -> dict[str, str]:
    await get(rt, account_id)
    await rt.redis.hset(rt.keys.account(account_id), mapping=fields)
    await rt.part(AccountCache).invalidate(account_id)
    return await get(rt, account_id)


async def rotate(rt: Runtime, account_id: str, old_key: str) -> str:
    """A new key; the old one stops working at once. Returns the new key (shown once)."""
    new_key = generate_key()
    old_hash = hash_key(rt.settings.key_secret, old_key)
    new_hash = hash_key(rt.settings.key_secret, new_key)
    k = rt.keys
    swapped = await rt.scripts.rotate(
        keys=[k.account(account_id), k.api_key(old_hash), k.api_key(new_hash)],
        args=[account_id, old_hash, new_hash, rt.clock()],
    )
    if not swapped:
        raise AccountMissing(account_id)
    await rt.part(AccountCache).invalidate(account_id)
    return new_key


def key_prefix(api_key: str) -> str:
    """What may be shown of a key: its start and end."""
    return f"{api_key[:7]}...{api_key[-4:]}"

"""Credit balances. Reserve/capture/release happen inside the job scripts (see lua/), so a
job and its money always move together."""

from __future__ import annotations

from dataclasses import dataclass

from serve_app.runtime import Runtime


@dataclass(frozen=True)
class Balance:
    available: int
    held: int


async def balance(rt: Runtime, account_id: str) -> Balance:
    available, held = await rt.redis.hmget(rt.keys.credits(account_id), ["balance", "held"])
    return Balance(int(available or 0), int(held or 0))


async def grant(rt: Runtime, account_id: str, amount: int) -> Balance:
    await rt.redis.hincrby(rt.keys.credits(account_id), "balance", amount)
    return await balance(rt, account_id)

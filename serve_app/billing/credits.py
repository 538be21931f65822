"""Credit buckets: `free_today` (the plan's daily quota, gone at UTC midnight), `sub` (grants
with an expiry) and `extra` (permanent). Spending takes the soonest-expiring bucket first.

Reserve, capture and release happen inside the job scripts (lua/submit, complete, fail) so a
job and its money always move together; every movement lands in the account's ledger.
"""

from __future__ import annotations

from dataclasses import dataclass

from serve_app.core import clock
from serve_app.core.runtime import Runtime

BUCKETS = ("sub", "extra")
DEFAULT_SUB_DAYS = 30


class InvalidGrant(ValueError):
    pass


@dataclass(frozen=True)
class Balance:
    free_today: int
    sub: int
    extra: int
    held: int
    free_limit: int

    @property
    def total(self) -> int:
        return self.free_today + self.sub + self.extra

    @property
    def used_today(self) -> int:
        return max(0, self.free_limit - self.free_today)

    def buckets(self) -> dict[str, int]:
        return {
            "sub": self.sub,
            "extra": self.extra,
            "free_today": self.free_today,
            "total": self.total,
        }


# a hold's parts, as lua/lib.lua's reserve names them -> the bucket they came from
_PARTS = {"p:free_today": "free", "p:sub": "sub", "p:extra": "extra"}


async def source(rt: Runtime, job_id: str) -> str:
    """Which bucket a job's credits were taken from (the soonest-expiring one it touched;
    a hold is kept 30 days after it is captured or released)."""
    parts = await rt.redis.hkeys(rt.keys.hold(job_id))
    for prefix, name in _PARTS.items():
        if any(part.startswith(prefix) for part in parts):
            return name
    return "extra"


def quota(rt: Runtime, plan: str) -> int:
    return rt.plans.get(plan).free_daily if rt.plans.exists(plan) else 0


def in_flight_cap(rt: Runtime, plan: str) -> int:
    """The most jobs an account of `plan` may have queued or running (0: no cap)."""
    return rt.plans.get(plan).max_in_flight if rt.plans.exists(plan) else 0


async def balance(rt: Runtime, account_id: str, plan: str) -> Balance:
    now = rt.clock()
    values = await rt.scripts.balance(
        keys=rt.keys.credit_keys(account_id),
        args=[clock.ms(now), clock.day(now), quota(rt, plan)],
    )
    return Balance(*(int(v) for v in values))


async def grant(
    rt: Runtime,
    account_id: str,
    amount: int,
    bucket: str = "extra",
    expires_at: float | None = None,
    note: str = "",
) -> str:
    """Add credits; returns the grant id ('' for extra)."""
    if bucket not in BUCKETS:
        raise InvalidGrant(f"bucket must be one of {', '.join(BUCKETS)}")
    if amount <= 0:
        raise InvalidGrant("amount must be positive")
    now = rt.clock()
    if bucket == "extra" and expires_at is not None:
        raise InvalidGrant("extra credits are permanent; use bucket sub for an expiry")
    if bucket == "sub":
        expires_at = expires_at or now + DEFAULT_SUB_DAYS * 86400
        if expires_at <= now:
            raise InvalidGrant("expiry is in the past")
    return await rt.scripts.grant(
        keys=rt.keys.credit_keys(account_id),
        args=[bucket, amount, clock.ms(expires_at or 0), clock.ms(now), note[:200]],
    )

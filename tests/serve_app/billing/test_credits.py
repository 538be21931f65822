"""Credit buckets: spending order by expiry, the daily free quota, grants, releases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from serve_app.billing import accounts, credits, ledger
from serve_app.engine import jobs
from serve_app.engine.jobs import NewJob
from tests.helpers.runtime import ref

NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()
HOUR, DAY = 3600, 86400


@pytest.fixture
def at(rt):
    """Set the runtime's clock: at(ts)."""

    def move(ts: float) -> None:
        rt.clock = lambda: ts

    move(NOON)
    return move


async def spend(rt, account_id: str, cost: int, plan: str = "free") -> NewJob:
    job = NewJob(account_id, "upscale", cost, {}, "inputs/x.png", 8, 8)
    await jobs.submit(rt, job, credits.quota(rt, plan), "x2")
    return job


async def hold_parts(rt, job: NewJob) -> dict[str, int]:
    hold = await rt.redis.hgetall(rt.keys.hold(job.job_id))
    return {k[2:]: int(v) for k, v in hold.items() if k.startswith("p:")}


async def assert_audit_clean(rt, account_id):
    audit = await ledger.audit(rt, account_id)
    assert audit.ok, audit.problems


async def test_soonest_expiry_first_free_before_later_grants(rt, at):
    account_id, _ = await accounts.create(rt, 10, "free")  # 10 extra + 3 free today
    late = await credits.grant(rt, account_id, 5, "sub", NOON + 10 * DAY)
    soon = await credits.grant(rt, account_id, 5, "sub", NOON + 2 * DAY)
    today = await credits.grant(rt, account_id, 2, "sub", NOON + 6 * HOUR)  # before midnight
    job = await spend(rt, account_id, 8)
    # 2 from the grant ending this evening, 3 free (midnight), 3 from the 2-day grant
    assert await hold_parts(rt, job) == {f"sub:{today}": 2, "free_today": 3, f"sub:{soon}": 3}
    job2 = await spend(rt, account_id, 9)
    assert await hold_parts(rt, job2) == {f"sub:{soon}": 2, f"sub:{late}": 5, "extra": 2}
    balance = await credits.balance(rt, account_id, "free")
    assert (balance.free_today, balance.sub, balance.extra, balance.held) == (0, 0, 8, 17)
    await assert_audit_clean(rt, account_id)


async def test_equal_expiries_oldest_grant_first(rt, at):
    account_id, _ = await accounts.create(rt, 0, "enterprise")
    first = await credits.grant(rt, account_id, 2, "sub", NOON + DAY * 5)
    second = await credits.grant(rt, account_id, 2, "sub", NOON + DAY * 5)
    job = await spend(rt, account_id, 3, "enterprise")
    assert await hold_parts(rt, job) == {f"sub:{first}": 2, f"sub:{second}": 1}


async def test_free_quota_resets_at_utc_midnight(rt, at):
    account_id, _ = await accounts.create(rt, 0, "free")
    await spend(rt, account_id, 2)
    assert (await credits.balance(rt, account_id, "free")).free_today == 1
    at(NOON + 11 * HOUR + 59 * 60)  # 23:59 the same day: no reset
    assert (await credits.balance(rt, account_id, "free")).free_today == 1
    at(NOON + 12 * HOUR)  # 00:00 the next day
    balance = await credits.balance(rt, account_id, "free")
    assert (balance.free_today, balance.used_today, balance.free_limit) == (3, 0, 3)
    kinds = [
        (e["type"], e["bucket"], e["amount"])
        for e in reversed(await ledger.entries(rt, account_id))
    ]
    assert kinds[-2:] == [("expire", "free_today", "1"), ("grant", "free_today", "3")]
    await assert_audit_clean(rt, account_id)


async def test_release_after_midnight_does_not_revive_yesterdays_quota(rt, at):
    account_id, _ = await accounts.create(rt, 0, "free")
    job = await spend(rt, account_id, 2)
    at(NOON + DAY)
    assert await jobs.fail(rt, ref(job), "timeout", "late")
    balance = await credits.balance(rt, account_id, "free")
    assert (balance.free_today, balance.held) == (3, 0)
    await assert_audit_clean(rt, account_id)


async def test_expired_grants_are_swept_and_releases_into_them_expire(rt, at):
    account_id, _ = await accounts.create(rt, 0, "enterprise")
    await credits.grant(rt, account_id, 5, "sub", NOON + HOUR)
    job = await spend(rt, account_id, 2, "enterprise")
    at(NOON + 2 * HOUR)
    balance = await credits.balance(rt, account_id, "enterprise")
    assert (balance.sub, balance.held) == (0, 2)  # 3 left in the grant expired
    assert await jobs.fail(rt, ref(job), "timeout", "x")
    assert (await credits.balance(rt, account_id, "enterprise")).total == 0
    await assert_audit_clean(rt, account_id)


async def test_release_returns_each_part_to_its_bucket(rt, at):
    account_id, _ = await accounts.create(rt, 4, "free")
    gid = await credits.grant(rt, account_id, 2, "sub", NOON + DAY * 3)
    job = await spend(rt, account_id, 7)
    assert await jobs.fail(rt, ref(job), "timeout", "x")
    balance = await credits.balance(rt, account_id, "free")
    assert (balance.free_today, balance.sub, balance.extra, balance.held) == (3, 2, 4, 0)
    assert gid
    await assert_audit_clean(rt, account_id)


@pytest.mark.parametrize(
    ("amount", "bucket", "expires"),
    [(0, "extra", None), (5, "extra", NOON + DAY), (5, "sub", NOON - 1), (5, "gold", None)],
)
async def test_invalid_grants(rt, at, amount, bucket, expires):
    account_id, _ = await accounts.create(rt, 0, "free")
    with pytest.raises(credits.InvalidGrant):
        await credits.grant(rt, account_id, amount, bucket, expires)


async def test_sub_grant_defaults_to_thirty_days(rt, at):
    account_id, _ = await accounts.create(rt, 0, "free")
    gid = await credits.grant(rt, account_id, 5, "sub")
    assert await rt.redis.zscore(rt.keys.grants(account_id), gid) == (NOON + 30 * DAY) * 1000

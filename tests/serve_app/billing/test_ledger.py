"""The audit finds any difference between the ledger and the balances."""

from __future__ import annotations

from serve_app.billing import accounts, credits, ledger
from serve_app.engine import jobs
from serve_app.engine.jobs import JobStatus, NewJob
from tests.helpers.runtime import ref


async def busy_account(rt):
    account_id, _ = await accounts.create(rt, 10, "free")
    await credits.grant(rt, account_id, 4, "sub", rt.clock() + 86400)
    done, failed, queued = (NewJob(account_id, "upscale", 2, {}, "i", 1, 1) for _ in range(3))
    for job in (done, failed, queued):
        await jobs.submit(rt, job, 3, "x2")
    await jobs.transition(rt, done.job_id, {JobStatus.QUEUED}, JobStatus.PROCESSING)
    await jobs.complete(rt, ref(done))
    await jobs.fail(rt, ref(failed), "timeout", "x")
    return account_id


async def test_clean_ledger_after_every_kind_of_movement(rt):
    account_id = await busy_account(rt)
    audit = await ledger.audit(rt, account_id)
    assert audit.ok, audit.problems
    assert audit.totals == {"grant": 17, "reserve": 6, "capture": 2, "release": 2, "expire": 0}
    assert (audit.available, audit.held) == (13, 2)


async def test_a_credit_invented_outside_the_ledger_is_reported(rt):
    account_id = await busy_account(rt)
    await rt.redis.hincrby(rt.keys.credits(account_id), "extra", 5)
    audit = await ledger.audit(rt, account_id)
    assert not audit.ok
    assert any("available + held" in p for p in audit.problems)


async def test_a_double_capture_is_reported(rt):
    account_id = await busy_account(rt)
    entries = await ledger.entries(rt, account_id)
    captured = next(e for e in entries if e["type"] == "capture")
    await rt.redis.xadd(
        rt.keys.ledger(account_id), {k: v for k, v in captured.items() if k != "id"}
    )
    audit = await ledger.audit(rt, account_id)
    assert any("captured 2 times" in p for p in audit.problems)


async def test_entries_are_newest_first_and_paged(rt):
    account_id = await busy_account(rt)
    first = await ledger.entries(rt, account_id, count=3)
    assert len(first) == 3 and first[0]["id"] > first[1]["id"] > first[2]["id"]
    older = await ledger.entries(rt, account_id, count=3, before=f"({first[-1]['id']}")
    assert older[0]["id"] < first[-1]["id"]

"""Job records: atomic submit with its credits, compare-and-set transitions, one capture."""

from __future__ import annotations

import asyncio

import pytest

from serve_app.billing import accounts
from serve_app.core.errors import InvalidJobId, OutOfCredits
from serve_app.engine import jobs
from serve_app.engine.jobs import JobStatus, NewJob
from tests.helpers.runtime import money, ref


def new_job(account_id: str, cost: int = 1) -> NewJob:
    return NewJob(account_id, "upscale", cost, {"model": "m"}, "inputs/x.png", 10, 10)


async def test_submit_reserves_and_enqueues_together(rt):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = new_job(account_id, cost=2)
    assert await jobs.submit(rt, job, 0, "x2") == 3
    stored = await jobs.load(rt, job.job_id)
    assert stored.status == "queued" and stored.account == account_id
    assert await money(rt, account_id) == (3, 2)
    entries = await rt.redis.xrange(rt.keys.stream("upscale"))
    assert [fields["job_id"] for _, fields in entries] == [job.job_id]
    assert 0 < await rt.redis.ttl(rt.keys.job(job.job_id)) <= rt.settings.job_ttl_s


async def test_submit_without_credits_leaves_no_trace(rt):
    account_id, _ = await accounts.create(rt, 1, "enterprise")
    job = new_job(account_id, cost=2)
    with pytest.raises(OutOfCredits) as caught:
        await jobs.submit(rt, job, 0, "x2")
    assert caught.value.extra == {"remaining": 1, "cost": 2}
    assert await jobs.load(rt, job.job_id) is None
    assert await rt.redis.exists(rt.keys.stream("upscale")) == 0
    assert await money(rt, account_id) == (1, 0)


async def test_complete_captures_once_even_when_raced(rt):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = new_job(account_id, cost=2)
    await jobs.submit(rt, job, 0, "x2")
    await jobs.transition(rt, job.job_id, {JobStatus.QUEUED}, JobStatus.PROCESSING)
    results = await asyncio.gather(*[jobs.complete(rt, ref(job)) for _ in range(20)])
    assert results.count(True) == 1
    assert await money(rt, account_id) == (3, 0)
    assert (await jobs.load(rt, job.job_id)).status == "done"
    # a late failure cannot undo a finished job nor hand its credits back
    assert await jobs.fail(rt, ref(job), "timeout", "late") is False
    assert await money(rt, account_id) == (3, 0)


async def test_fail_releases_once(rt):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = new_job(account_id, cost=2)
    await jobs.submit(rt, job, 0, "x2")
    results = await asyncio.gather(*[jobs.fail(rt, ref(job), "timeout", "x") for _ in range(20)])
    assert results.count(True) == 1
    assert await money(rt, account_id) == (5, 0)
    stored = await jobs.load(rt, job.job_id)
    assert (stored.status, stored.error_code) == ("failed", "timeout")
    # and a late completion cannot resurrect it
    assert await jobs.complete(rt, ref(job)) is False


async def test_fail_of_an_expired_job_still_releases_its_credits(rt):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = new_job(account_id, cost=2)
    await jobs.submit(rt, job, 0, "x2")
    await rt.redis.delete(rt.keys.job(job.job_id))
    assert await jobs.fail(rt, ref(job), "timeout", "expired") is True
    assert await money(rt, account_id) == (5, 0)


async def test_transition_is_compare_and_set(rt):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = new_job(account_id)
    await jobs.submit(rt, job, 0, "x2")
    assert await jobs.transition(rt, job.job_id, {JobStatus.PROCESSING}, None, progress=50) == 0
    assert await jobs.transition(rt, job.job_id, {JobStatus.QUEUED}, JobStatus.PROCESSING) == 1
    assert await jobs.transition(rt, job.job_id, {JobStatus.PROCESSING}, None, progress=50) == 1
    assert (await jobs.load(rt, job.job_id)).progress == 50
    assert await jobs.transition(rt, "job_missing", {JobStatus.QUEUED}, JobStatus.PROCESSING) == -1


@pytest.mark.parametrize("bad", ["", "../etc", "a b", "x" * 100, "job/1"])
def test_job_id_format(bad):
    with pytest.raises(InvalidJobId):
        jobs.check_job_id(bad)


async def test_completion_keeps_a_moving_average_of_job_times(rt):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    for seconds in (10.0, 20.0):
        job = new_job(account_id)
        await jobs.submit(rt, job, 0, "x2")
        await jobs.transition(rt, job.job_id, {JobStatus.QUEUED}, JobStatus.PROCESSING)
        await jobs.complete(rt, ref(job), seconds)
    assert float(await rt.redis.hget(rt.keys.timings, "processing:upscale")) == 12.0

"""Job-finished events wake sync-mode waiters; a lost event only costs the fallback poll."""

from __future__ import annotations

import asyncio

from serve_app.api import waiting
from serve_app.billing import accounts
from serve_app.engine import jobs
from serve_app.engine.events import JobEvents
from serve_app.engine.jobs import JobStatus, NewJob
from tests.helpers.runtime import ref


async def queued_job(rt) -> NewJob:
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = NewJob(account_id, "upscale", 1, {}, "inputs/x.png", 8, 8)
    await jobs.submit(rt, job, 0, "x2")
    return job


async def test_completion_and_failure_are_published(rt):
    done, failed = await queued_job(rt), await queued_job(rt)
    on_done, on_failed = (
        rt.part(JobEvents).register(done.job_id),
        rt.part(JobEvents).register(failed.job_id),
    )
    assert await rt.part(JobEvents).ready()
    await jobs.transition(rt, done.job_id, {JobStatus.QUEUED}, JobStatus.PROCESSING)
    await jobs.complete(rt, ref(done))
    await jobs.fail(rt, ref(failed), "timeout", "x")
    assert await asyncio.wait_for(asyncio.gather(on_done, on_failed), 5) == [True, True]
    assert rt.part(JobEvents).waiters == {}


async def test_waiter_returns_the_finished_job(rt):
    job = await queued_job(rt)
    waiter = asyncio.create_task(waiting.until_finished(rt, job.job_id, 30))
    await asyncio.sleep(0.1)
    await jobs.fail(rt, ref(job), "timeout", "x")
    finished = await asyncio.wait_for(waiter, 5)
    assert finished.status == "failed"


async def test_a_lost_event_is_caught_by_the_fallback(rt):
    job = await queued_job(rt)
    rt._parts[JobEvents] = JobEvents(rt, channel="a-channel-nobody-publishes-on")
    waiter = asyncio.create_task(waiting.until_finished(rt, job.job_id, 30))
    await asyncio.sleep(0.1)
    await jobs.fail(rt, ref(job), "timeout", "x")
    assert (await asyncio.wait_for(waiter, 5)).status == "failed"


async def test_times_out_into_none(rt):
    job = await queued_job(rt)
    assert await waiting.until_finished(rt, job.job_id, 0.2) is None
    assert rt.part(JobEvents).waiters == {}

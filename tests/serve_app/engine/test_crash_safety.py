"""Redelivery, deadlines, retries and graceful hand-back, with dispatchers in this process.
(The same with real processes and signals is in tests/e2e/test_faults.py.)"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from loadtest.photos import photo_bytes
from serve_app.billing import accounts, ledger
from serve_app.engine import jobs
from serve_app.engine.dispatcher import Dispatcher, ensure_group, heartbeat_s
from tests.helpers.dispatch import GatedBackend, finished, lanes
from tests.helpers.dispatch import submit_upscale as submit
from tests.helpers.runtime import money, wait_for

FAST = dict(claim_idle_s=0.4, reclaim_interval_s=0.1, dispatch_block_ms=50)


class Works:
    def __init__(self):
        self.started = 0

    async def stream(self, image, params):
        self.started += 1
        yield {"progress": 0.5}
        yield {"image": np.zeros((params["out_height"], params["out_width"], 3), np.uint8)}


class ActorDiedError(Exception):
    """Named like Ray's: the replica died under the call."""


class DiesOnce(Works):
    async def stream(self, image, params):
        self.started += 1
        if self.started == 1:
            raise ActorDiedError("replica died")
        yield {"image": np.zeros((params["out_height"], params["out_width"], 3), np.uint8)}


@pytest.fixture
async def dispatchers(rt):
    running = []

    async def start(backend, consumer="d1", **settings):
        for key, value in {**FAST, **settings}.items():
            setattr(rt.settings, key, value)
        dispatcher = Dispatcher(rt, lanes({"upscale": backend}), consumer)
        await dispatcher.start()
        running.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in running:
        if not dispatcher.stopping.is_set():
            await dispatcher.stop()


async def deliver_to_a_dead_consumer(rt) -> str:
    """Read one entry as a consumer that then vanishes (as if SIGKILLed)."""
    stream = rt.keys.stream("upscale")
    await ensure_group(rt, stream)
    reply = await rt.redis.xreadgroup(rt.keys.group, "dead", {stream: ">"}, count=1)
    return reply[0][1][0][0]


async def nothing_pending(rt) -> bool:
    pending = await rt.redis.xpending(rt.keys.stream("upscale"), rt.keys.group)
    return pending["pending"] == 0


async def test_entry_of_a_dead_consumer_is_reclaimed_and_finished(rt, dispatchers):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = await submit(rt, account_id, photo_bytes(size=16))
    await deliver_to_a_dead_consumer(rt)
    backend = Works()
    await dispatchers(backend)
    assert (await finished(rt, job.job_id)).status == "done"
    assert backend.started == 1
    await wait_for(lambda: nothing_pending(rt))
    assert await money(rt, account_id) == (4, 0)


async def test_too_many_deliveries_fail_the_job_and_release(rt, dispatchers):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = await submit(rt, account_id, photo_bytes(size=16))
    await deliver_to_a_dead_consumer(rt)
    # it was started three times already, by consumers that all died
    await rt.redis.hset(
        rt.keys.job(job.job_id),
        mapping={"status": "processing", "attempts": 3, "started_at": rt.clock()},
    )
    backend = Works()
    await dispatchers(backend, max_deliveries=3)
    failed = await finished(rt, job.job_id)
    assert (failed.status, failed.error_code) == ("failed", "error_inference")
    assert backend.started == 0
    assert await money(rt, account_id) == (5, 0)


async def test_deadline_fails_a_slow_job_with_timeout(rt, dispatchers):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = await submit(rt, account_id, photo_bytes(size=16))
    await dispatchers(GatedBackend(), deadlines={"upscale": 0.5})
    failed = await finished(rt, job.job_id)
    assert (failed.status, failed.error_code) == ("failed", "timeout")
    assert await money(rt, account_id) == (5, 0)


async def test_deadline_counts_from_the_first_start(rt, dispatchers):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = await submit(rt, account_id, photo_bytes(size=16))
    await deliver_to_a_dead_consumer(rt)
    await rt.redis.hset(
        rt.keys.job(job.job_id),
        mapping={"status": "processing", "attempts": 1, "started_at": rt.clock() - 3600},
    )
    backend = Works()
    await dispatchers(backend, deadlines={"upscale": 600})
    assert (await finished(rt, job.job_id)).error_code == "timeout"
    assert backend.started == 0


async def test_replica_death_is_retried_not_failed(rt, dispatchers):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = await submit(rt, account_id, photo_bytes(size=16))
    backend = DiesOnce()
    await dispatchers(backend)
    assert (await finished(rt, job.job_id)).status == "done"
    assert backend.started == 2


async def test_a_live_consumer_keeps_its_long_job(rt, dispatchers):
    """Heartbeats: a second dispatcher never takes a job the first is still running."""
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = await submit(rt, account_id, photo_bytes(size=16))
    first, second = GatedBackend(), Works()
    # a second's window leaves room for a busy CI machine stalling this event loop
    await dispatchers(first, "a", claim_idle_s=1.0)
    await wait_for(lambda: asyncio.sleep(0, first.started == 1))
    await dispatchers(second, "b")
    await asyncio.sleep(4.0)  # four times the claim idle time
    assert second.started == 0
    first.gate.set()
    assert (await finished(rt, job.job_id)).status == "done"


@pytest.mark.parametrize("window_s", [0.4, 1.0, 5.0, 60.0])
def test_the_heartbeat_beats_well_inside_every_claim_window(window_s):
    assert heartbeat_s(window_s) <= window_s / 3


async def test_graceful_stop_hands_unfinished_jobs_back(rt, dispatchers):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = await submit(rt, account_id, photo_bytes(size=16))
    stuck = GatedBackend()
    dispatcher = await dispatchers(stuck, "leaving", shutdown_grace_s=0.2)
    await wait_for(lambda: asyncio.sleep(0, stuck.started == 1))
    await dispatcher.stop()
    handed = await jobs.load(rt, job.job_id)
    assert handed.status == "queued"
    pending = await rt.redis.xpending(rt.keys.stream("upscale"), rt.keys.group)
    assert pending["pending"] == 0
    assert await rt.redis.get(rt.keys.depth("upscale")) == "1"
    backend = Works()
    await dispatchers(backend, "arriving")
    assert (await finished(rt, job.job_id)).status == "done"
    assert await rt.redis.get(rt.keys.depth("upscale")) == "0"
    audit = await ledger.audit(rt, account_id)
    assert audit.ok and audit.totals["capture"] == 1


async def test_stop_waits_for_jobs_that_finish_within_the_grace(rt, dispatchers):
    account_id, _ = await accounts.create(rt, 5, "enterprise")
    job = await submit(rt, account_id, photo_bytes(size=16))
    gated = GatedBackend()
    dispatcher = await dispatchers(gated, "leaving", shutdown_grace_s=5)
    await wait_for(lambda: asyncio.sleep(0, gated.started == 1))
    stopping = asyncio.create_task(dispatcher.stop())
    await asyncio.sleep(0.2)
    gated.gate.set()
    await stopping
    assert (await jobs.load(rt, job.job_id)).status == "done"

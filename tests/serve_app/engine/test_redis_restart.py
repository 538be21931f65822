"""Redis dies (SIGKILL) and comes back in the middle of a burst of submits: every accepted job
still ends done or failed, nothing is charged twice, and the ledger audit is clean."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import numpy as np
import pytest

from loadtest.photos import photo_bytes
from serve_app.billing import accounts, ledger
from serve_app.core.runtime import Runtime
from serve_app.engine import jobs
from serve_app.engine.dispatcher import Dispatcher
from serve_app.process.embedded_redis import EmbeddedRedis
from tests.helpers.dispatch import lanes
from tests.helpers.runtime import make_settings, wait_for

pytestmark = pytest.mark.slow
PNG = photo_bytes(size=16)
BURST = 200


class SlowEnough:
    """20 ms a job, every fifth one failing: both outcomes cross the restart."""

    def __init__(self):
        self.calls = 0

    async def stream(self, image, params):
        self.calls += 1
        await asyncio.sleep(0.02)
        if self.calls % 5 == 0:
            raise RuntimeError("model failed")
        yield {"image": np.zeros((params["out_height"], params["out_width"], 3), np.uint8)}


@pytest.fixture
def durable_redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "durable", appendonly=True).start()
    yield server
    server.stop()


@pytest.fixture
def settings(durable_redis, tmp_path, weights_dir):
    return make_settings(
        durable_redis,
        tmp_path,
        weights_dir,
        claim_idle_s=1.0,
        reclaim_interval_s=0.2,
        dispatch_block_ms=100,
    )


async def submit_all(url: str, key: str) -> list[httpx.Response | Exception]:
    """BURST submits spread over about 2.4 s, 20 connections."""
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=20), timeout=30) as http:

        async def one(i: int):
            await asyncio.sleep(i * 0.012)
            try:
                return await http.post(
                    f"{url}/v1/upscale", headers={"x-key": key}, files={"image": ("a.png", PNG)}
                )
            except httpx.HTTPError as exc:
                return exc

        return await asyncio.gather(*(one(i) for i in range(BURST)))


async def test_every_accepted_job_survives_a_redis_restart(http_server, settings, durable_redis):
    rt = Runtime.create(settings)
    account_id, key = await accounts.create(rt, 1000, "enterprise")
    dispatcher = Dispatcher(rt, lanes({"upscale": SlowEnough()}), "survivor")
    await dispatcher.start()

    async def restart():
        await asyncio.sleep(0.6)
        durable_redis.kill()  # SIGKILL: no chance to flush anything
        await asyncio.sleep(0.8)
        await asyncio.to_thread(durable_redis.start)

    try:
        responses, _ = await asyncio.gather(submit_all(http_server, key), restart())
        accepted = [
            r.json()["job_id"]
            for r in responses
            if isinstance(r, httpx.Response) and r.status_code == 202
        ]
        others = Counter(
            r.status_code if isinstance(r, httpx.Response) else type(r).__name__ for r in responses
        )
        others.pop(202, None)
        assert set(others) <= {503}, others  # refusals during the outage are clean envelopes

        async def all_finished():
            states = [getattr(await jobs.load(rt, job_id), "status", None) for job_id in accepted]
            return Counter(states) if set(states) <= {"done", "failed"} else None

        try:
            final = await wait_for(all_finished, timeout_s=60)
        except TimeoutError:
            states = [(job_id, await jobs.load(rt, job_id)) for job_id in accepted]
            stuck = [(j, s) for j, s in states if not s or s.status not in ("done", "failed")]
            pending = await rt.redis.xpending_range(
                rt.keys.stream("upscale"), rt.keys.group, "-", "+", 10
            )
            raise AssertionError(f"stuck: {stuck[:3]} pending {pending}") from None
    finally:
        await dispatcher.stop()
    audit = await ledger.audit(rt, account_id)
    await rt.close()
    lost = len(accepted) - final["done"] - final["failed"]
    double = sum("captured" in problem for problem in audit.problems)
    print(
        f"\naccepted {len(accepted)}, done {final['done']}, failed {final['failed']}, "
        f"refused during the outage {sum(others.values())}, lost {lost}, double captures {double}"
    )
    assert len(accepted) > BURST // 2 and sum(others.values()) > 0
    assert lost == 0 and double == 0
    assert audit.ok, audit.problems
    assert audit.totals["capture"] == final["done"]

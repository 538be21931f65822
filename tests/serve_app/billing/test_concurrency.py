"""The money path under real concurrency: 500 simultaneous HTTP submits against 37 credits,
served by uvicorn over real sockets, with a real Redis."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import numpy as np
import pytest

from loadtest.photos import photo_bytes
from serve_app.billing import accounts, ledger
from serve_app.engine import jobs
from serve_app.engine.dispatcher import Dispatcher
from tests.helpers.dispatch import lanes
from tests.helpers.runtime import money, wait_for

pytestmark = pytest.mark.slow
PNG = photo_bytes(size=16)


class SometimesFailing:
    """Every third job fails in the model: its credits must come back."""

    def __init__(self):
        self.calls = 0

    async def stream(self, image, params):
        self.calls += 1
        if self.calls % 3 == 0:
            raise RuntimeError("model exploded")
        yield {"image": np.zeros((params["out_height"], params["out_width"], 3), np.uint8)}


async def observe_balance(rt, account_id, seen: list, stop: asyncio.Event):
    c, _, b, _ = rt.keys.credit_keys(account_id)
    while not stop.is_set():
        async with rt.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(c)
            pipe.hvals(b)
            values, grants = await pipe.execute()
        available = (
            int(values.get("extra", 0)) + int(values.get("free_left", 0)) + sum(map(int, grants))
        )
        seen.append((available, int(values.get("held", 0))))
        await asyncio.sleep(0.001)


async def test_500_concurrent_submits_against_37_credits(http_server, rt):
    account_id, key = await accounts.create(rt, 37, "enterprise")
    seen: list[tuple[int, int]] = []
    stop = asyncio.Event()
    observer = asyncio.create_task(observe_balance(rt, account_id, seen, stop))
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
    async with httpx.AsyncClient(limits=limits, timeout=120) as http:
        url, files = f"{http_server}/v1/upscale", {"image": ("a.png", PNG)}
        posts = [http.post(url, headers={"x-key": key}, files=files) for _ in range(500)]
        responses = await asyncio.gather(*posts)
    stop.set()
    await observer

    codes = Counter(r.status_code for r in responses)
    print(f"\n500 submits: {dict(codes)}; balance observed {len(seen)} times")
    assert codes == {202: 37, 402: 463}
    refused = [r.json() for r in responses if r.status_code == 402]
    assert all(b["error"] == "out_of_credits" and b["cost"] == 1 for b in refused)
    accepted = {r.json()["job_id"] for r in responses if r.status_code == 202}
    assert len(accepted) == 37
    assert sorted(r.json()["remaining"] for r in responses if r.status_code == 202) == list(
        range(37)
    )
    assert seen and all(a >= 0 and h >= 0 and a + h == 37 for a, h in seen)
    assert await rt.redis.xlen(rt.keys.stream("upscale")) == 37

    # now run them, a third failing: failed jobs give their credits back
    dispatcher = Dispatcher(rt, lanes({"upscale": SometimesFailing()}), "burst")
    await dispatcher.start()
    try:

        async def all_finished():
            states = [(await jobs.load(rt, job_id)).status for job_id in accepted]
            return Counter(states) if set(states) <= {"done", "failed"} else None

        final = await wait_for(all_finished, timeout_s=120)
    finally:
        await dispatcher.stop()
    print(f"outcomes: {dict(final)}")
    assert final["done"] + final["failed"] == 37 and final["failed"] > 0
    assert await money(rt, account_id) == (37 - final["done"], 0)
    audit = await ledger.audit(rt, account_id)
    assert audit.ok, audit.problems
    assert audit.totals["capture"] == final["done"]


async def test_50_concurrent_polls_of_a_finished_job_capture_once(http_server, rt):
    account_id, key = await accounts.create(rt, 5, "enterprise")
    async with httpx.AsyncClient(timeout=60) as http:
        job_id = (
            await http.post(
                f"{http_server}/v1/upscale", headers={"x-key": key}, files={"image": ("a.png", PNG)}
            )
        ).json()["job_id"]
        dispatcher = Dispatcher(rt, lanes({"upscale": AlwaysWorks()}), "polls")
        await dispatcher.start()
        try:
            await wait_for(lambda: _is_done(rt, job_id))
        finally:
            await dispatcher.stop()
        polls = await asyncio.gather(
            *[
                http.get(f"{http_server}/v1/jobs/{job_id}", headers={"x-key": key})
                for _ in range(50)
            ]
        )
    bodies = [p.json() for p in polls]
    assert all(b["status"] == "done" for b in bodies)
    assert sum(b["deducted_this_call"] for b in bodies) == 1
    captures = [e for e in await ledger.entries(rt, account_id) if e["type"] == "capture"]
    assert len(captures) == 1 and captures[0]["job"] == job_id
    assert await money(rt, account_id) == (4, 0)


class AlwaysWorks:
    async def stream(self, image, params):
        yield {"image": np.zeros((params["out_height"], params["out_width"], 3), np.uint8)}


async def _is_done(rt, job_id):
    return (await jobs.load(rt, job_id)).status == "done"

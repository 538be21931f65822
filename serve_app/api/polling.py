"""A status poll in one Redis round trip (lua/poll.lua): rate-limit check, the job, its queue
depth, recent job time and the first-done flag. Status polls outnumber everything else by
10-30x, so this path is kept to one script call (plus a cached key lookup)."""

from __future__ import annotations

from dataclasses import dataclass

from serve_app import operations
from serve_app.billing import ratelimit
from serve_app.billing.accounts import Account
from serve_app.billing.ratelimit import RateState
from serve_app.core import clock
from serve_app.core.runtime import Runtime
from serve_app.engine.jobs import Job

RATE_CLASS = "status"
DEFAULT_JOB_SECONDS = 5.0


@dataclass
class Poll:
    rate: RateState
    job: Job | None
    depth: int
    per_job_s: float
    first_done: bool


async def poll(rt: Runtime, account: Account, plan_limit: int, tier: str, job_id: str) -> Poll:
    now_ms = clock.ms(rt.clock())
    ops = operations.names()
    k = rt.keys
    reply = await rt.scripts.poll(
        keys=[k.rate(account.id, RATE_CLASS), k.job(job_id), k.timings, *map(k.depth, ops)],
        args=[now_ms, ratelimit.WINDOW_S * 1000, plan_limit, ratelimit.member(now_ms), *ops],
    )
    allowed, count, oldest, first_done, depth, seconds = reply[:6]
    rate = ratelimit.state(RATE_CLASS, tier, plan_limit, now_ms, allowed, count, oldest)
    fields = reply[6:]
    job = Job.restore(dict(zip(fields[::2], fields[1::2], strict=True))) if fields else None
    per_job = float(seconds) if seconds else DEFAULT_JOB_SECONDS
    return Poll(rate, job, int(depth), per_job, bool(first_done))

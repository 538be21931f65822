"""Sync mode: hold a submit until its job finishes, up to a limit (`?wait=N`, N <= 60 s)."""

from __future__ import annotations

import asyncio
import contextlib

from serve_app.core import parsing
from serve_app.core.runtime import Runtime
from serve_app.engine import jobs
from serve_app.engine.events import JobEvents
from serve_app.engine.jobs import Job

FALLBACK_S = 1.0


def parse_wait(value: str | None, limit: float, default: float = 0.0) -> float:
    if value in (None, ""):
        return min(default, limit)
    return parsing.number(value, "wait (seconds)", 0, limit, 0.0)


async def until_finished(rt: Runtime, job_id: str, seconds: float) -> Job | None:
    """The job once done or failed, or None when `seconds` pass first. Woken by the
    job-finished event; looks at the job itself at least every FALLBACK_S regardless."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        finished = rt.part(JobEvents).register(job_id)
        try:
            await rt.part(JobEvents).ready()
            job = await jobs.load(rt, job_id)  # after subscribing: no event can slip past
            if job is None or job.finished:
                return job
            left = deadline - loop.time()
            if left <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(finished), min(FALLBACK_S, left))
        finally:
            rt.part(JobEvents).unregister(job_id, finished)

"""Settings for a test process, waiting on a condition, and reading an account's money."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from serve_app.billing import credits
from serve_app.core.settings import Settings
from serve_app.engine.jobs import Job, NewJob

ADMIN_TOKEN = "test-admin-token-of-enough-length"


def make_settings(redis_server, data_dir: Path, weights_dir: Path, **overrides) -> Settings:
    values = dict(
        redis_url=redis_server.url,
        redis_prefix=f"t{uuid.uuid4().hex[:10]}:",
        data_dir=data_dir,
        weights_dir=weights_dir,
        admin_token=ADMIN_TOKEN,
        key_secret="test-key-secret-of-at-least-32-characters",
        url_secret="test-url-secret-of-at-least-32-characters",
        user_models_file=None,
        public_base_url=None,
        dispatch_block_ms=100,
    )
    values.update(overrides)
    return Settings(**values)


async def wait_for(predicate, timeout_s: float = 30.0, interval_s: float = 0.05):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval_s)


async def money(rt, account_id: str, plan: str = "enterprise") -> tuple[int, int]:
    """(credits available, credits held) of an account."""
    balance = await credits.balance(rt, account_id, plan)
    return balance.total, balance.held


def ref(job: NewJob) -> Job:
    """The stored job as jobs.complete / jobs.fail need it."""
    return Job(job.job_id, job.account_id, job.operation)

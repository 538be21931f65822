"""Jobs: a Redis hash per job (with a TTL), a sorted set per account, one stream per operation.

Every status change is a compare-and-set (lua/transition.lua), and the two final ones move
the job's credits in the same script (lua/complete.lua, lua/fail.lua): a late duplicate run
can never overwrite a finished job or charge it twice.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from serve_app import clock
from serve_app.errors import InvalidJobId, OutOfCredits
from serve_app.runtime import Runtime

JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


FINISHED = frozenset({JobStatus.DONE, JobStatus.FAILED})


def new_job_id() -> str:
    return "job_" + secrets.token_hex(12)


def check_job_id(job_id: str) -> str:
    if not JOB_ID.match(job_id):
        raise InvalidJobId(f"{job_id[:80]!r} is not a job id.")
    return job_id


@dataclass
class NewJob:
    account_id: str
    operation: str
    cost: int
    params: dict[str, Any]
    input_key: str
    input_width: int
    input_height: int
    job_id: str = field(default_factory=new_job_id)

    def fields(self, created_at: float) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "account": self.account_id,
            "operation": self.operation,
            "status": JobStatus.QUEUED.value,
            "progress": 0,
            "cost": self.cost,
            "params": orjson.dumps(self.params).decode(),
            "input_key": self.input_key,
            "input_width": self.input_width,
            "input_height": self.input_height,
            "created_at": created_at,
            "attempts": 0,
        }


def _flatten(fields: dict[str, Any]) -> list[Any]:
    return [item for pair in fields.items() for item in pair]


async def submit(rt: Runtime, job: NewJob) -> int:
    """Reserve the job's credits and enqueue it atomically; returns the credits remaining."""
    now = clock.now()
    k = rt.keys
    accepted, remaining = await rt.scripts.submit(
        keys=[
            k.credits(job.account_id),
            k.hold(job.job_id),
            k.job(job.job_id),
            k.jobs(job.account_id),
            k.stream(job.operation),
        ],
        args=[
            job.account_id,
            job.job_id,
            job.cost,
            rt.settings.job_ttl_s,
            int(now * 1000),
            *_flatten(job.fields(now)),
        ],
    )
    if not accepted:
        raise OutOfCredits(
            f"This job costs {job.cost} credits; {remaining} remain.",
            remaining=int(remaining),
            cost=job.cost,
        )
    return int(remaining)


async def load(rt: Runtime, job_id: str) -> dict[str, str] | None:
    job = await rt.redis.hgetall(rt.keys.job(job_id))
    return job or None


async def transition(
    rt: Runtime, job_id: str, expected: set[JobStatus], new: JobStatus | None, **fields: Any
) -> int:
    """Returns 1 applied, 0 status did not match, -1 no such job."""
    return await rt.scripts.transition(
        keys=[rt.keys.job(job_id)],
        args=[",".join(sorted(expected)), new.value if new else "", *_flatten(fields)],
    )


async def complete(rt: Runtime, job_id: str, account_id: str, **fields: Any) -> bool:
    k = rt.keys
    result = await rt.scripts.complete(
        keys=[k.job(job_id), k.hold(job_id), k.credits(account_id)],
        args=_flatten({"progress": 100, "completed_at": clock.now(), **fields}),
    )
    return result == 1


async def fail(rt: Runtime, job_id: str, account_id: str, code: str, detail: str) -> bool:
    k = rt.keys
    result = await rt.scripts.fail(
        keys=[k.job(job_id), k.hold(job_id), k.credits(account_id)],
        args=_flatten({"error_code": code, "error_detail": detail, "completed_at": clock.now()}),
    )
    return result == 1

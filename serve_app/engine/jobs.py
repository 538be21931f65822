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

from serve_app.core import clock
from serve_app.core.errors import InvalidJobId, OutOfCredits, TooManyJobs
from serve_app.core.runtime import Runtime

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


def _int(value: str | None, default: int | None = 0) -> int | None:
    return int(value) if value not in (None, "") else default


def _float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


@dataclass(frozen=True)
class Job:
    """A job as stored: its Redis hash, parsed once (`Job.restore`)."""

    job_id: str
    account: str
    operation: str
    status: JobStatus = JobStatus.QUEUED
    params: dict[str, Any] = field(default_factory=dict)
    cost: int = 0
    progress: int = 0
    input_key: str = ""
    input_width: int = 0
    input_height: int = 0
    created_at: float | None = None
    started_at: float | None = None
    completed_at: float | None = None
    attempts: int = 0
    day: str = ""
    size_label: str = ""
    result_key: str = ""
    width: int | None = None
    height: int | None = None
    faces: int = 0
    seed: int | None = None
    error_code: str | None = None
    error_detail: str | None = None

    @classmethod
    def restore(cls, fields: dict[str, str]) -> Job:
        return cls(
            job_id=fields["job_id"],
            account=fields.get("account", ""),
            operation=fields.get("operation", ""),
            status=JobStatus(fields.get("status", JobStatus.QUEUED)),
            params=orjson.loads(fields.get("params") or "{}"),
            cost=_int(fields.get("cost")),
            progress=_int(fields.get("progress")),
            input_key=fields.get("input_key", ""),
            input_width=_int(fields.get("input_width")),
            input_height=_int(fields.get("input_height")),
            created_at=_float(fields.get("created_at")),
            started_at=_float(fields.get("started_at")),
            completed_at=_float(fields.get("completed_at")),
            attempts=_int(fields.get("attempts")),
            day=fields.get("day", ""),
            size_label=fields.get("size_label", ""),
            result_key=fields.get("result_key", ""),
            width=_int(fields.get("width"), None),
            height=_int(fields.get("height"), None),
            faces=_int(fields.get("faces")),
            seed=_int(fields.get("seed"), None),
            error_code=fields.get("error_code") or None,
            error_detail=fields.get("error_detail") or None,
        )

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def result_format(self) -> str:
        """png, jpg or webp: the stored result's format."""
        return self.result_key.rsplit(".", 1)[-1]


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


STATS_TTL_S = 100 * 86400
INDEX_KEEP_MS = 90 * 86400 * 1000


@dataclass(frozen=True)
class Idempotency:
    """Where to record the submit's response for replays (see idempotency.py)."""

    key: str
    ttl_s: int
    body: str


async def submit(
    rt: Runtime,
    job: NewJob,
    free_quota: int,
    size_label: str,
    idem: Idempotency | None = None,
    max_in_flight: int = 0,
) -> int:
    """Reserve the job's credits and enqueue it atomically, unless the account already has
    `max_in_flight` jobs queued or running (0: no cap); returns the credits remaining."""
    now = rt.clock()
    k = rt.keys
    day = clock.day(now)
    accepted, remaining = await rt.scripts.submit(
        keys=[
            *k.credit_keys(job.account_id),
            k.hold(job.job_id),
            k.job(job.job_id),
            k.jobs(job.account_id),
            k.stream(job.operation),
            k.stats(job.account_id, day),
            idem.key if idem else k.idempotency(job.account_id, "-"),
            k.depth(job.operation),
            k.metrics,
            k.in_flight(job.account_id),
        ],
        args=[
            job.account_id,
            job.job_id,
            job.cost,
            rt.settings.job_ttl_for(job.params),
            clock.ms(now),
            day,
            free_quota,
            clock.ms(clock.next_midnight(now)),
            job.operation,
            size_label,
            idem.ttl_s if idem else 0,
            idem.body if idem else "",
            STATS_TTL_S,
            INDEX_KEEP_MS,
            max_in_flight,
            *_flatten({**job.fields(now), "day": day, "size_label": size_label}),
        ],
    )
    if accepted == -1:
        raise TooManyJobs(
            f"{remaining} jobs of this account are queued or running, the most its plan "
            "allows at once: submit again when one has finished.",
            in_flight=int(remaining),
            limit=max_in_flight,
        )
    if not accepted:
        raise OutOfCredits(
            f"This job costs {job.cost} credits; {remaining} remain.",
            remaining=int(remaining),
            cost=job.cost,
        )
    return int(remaining)


async def load(rt: Runtime, job_id: str) -> Job | None:
    fields = await rt.redis.hgetall(rt.keys.job(job_id))
    return Job.restore(fields) if fields else None


async def transition(
    rt: Runtime, job_id: str, expected: set[JobStatus], new: JobStatus | None, **fields: Any
) -> int:
    """Returns 1 applied, 0 status did not match, -1 no such job."""
    return await rt.scripts.transition(
        keys=[rt.keys.job(job_id)],
        args=[",".join(sorted(expected)), new.value if new else "", *_flatten(fields)],
    )


async def first_report(rt: Runtime, job_id: str) -> bool:
    """True for the one status response that first reports the job done (PND's
    `deducted_this_call`); the credits themselves were captured when the job finished."""
    return bool(await rt.redis.hsetnx(rt.keys.job(job_id), "reported_done", 1))


async def complete(rt: Runtime, job: Job, seconds: float = 0.0, **fields: Any) -> bool:
    """processing -> done, capturing the job's credits (and queueing its webhook) in one step.
    `seconds`: how long the run took, for the moving average behind polling hints."""
    k, now = rt.keys, rt.clock()
    account = job.account
    keys = [k.job(job.job_id), k.hold(job.job_id), k.credits(account), k.ledger(account)]
    keys += [_stats_key(rt, job, now), k.account(account), k.webhooks, k.timings, k.metrics]
    keys += [k.in_flight(account)]
    done = {"progress": 100, "completed_at": now, **fields}
    args = [clock.ms(now), k.job_events, round(seconds, 3), *_flatten(done)]
    return await rt.scripts.complete(keys=keys, args=args) == 1


async def fail(rt: Runtime, job: Job, code: str, detail: str) -> bool:
    """-> failed (unless already finished), giving the job's credits back in the same step."""
    k, now = rt.keys, rt.clock()
    account = job.account
    keys = [k.job(job.job_id), k.hold(job.job_id), *k.credit_keys(account)]
    keys += [_stats_key(rt, job, now), k.account(account), k.webhooks]
    keys += [k.depth(job.operation), k.metrics, k.in_flight(account)]
    fields = {"error_code": code, "error_detail": detail, "completed_at": now}
    args = [job.job_id, account, clock.ms(now), k.job_events, *_flatten(fields)]
    return await rt.scripts.fail(keys=keys, args=args) == 1


async def start(rt: Runtime, job_id: str, operation: str) -> tuple[int, Job | None]:
    """A delivery begins: -> processing, attempts counted. Returns (1 started | 0 already
    finished | -1 missing, the job record when started)."""
    k = rt.keys
    outcome = await rt.scripts.start(keys=[k.job(job_id), k.depth(operation)], args=[rt.clock()])
    if outcome[0] != 1:
        return int(outcome[0]), None
    return 1, Job.restore(dict(zip(outcome[1::2], outcome[2::2], strict=True)))


def _stats_key(rt: Runtime, job: Job, now: float) -> str:
    return rt.keys.stats(job.account, job.day or clock.day(now))

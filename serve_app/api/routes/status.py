"""GET /v1/jobs/{id}: a job's status, for its owner; GET /v1/jobs: the owner's jobs, newest
first."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from serve_app.api import polling
from serve_app.api.deps import CreditsAccount, RuntimeDep, current_account, get_runtime, plan_of
from serve_app.api.results import poll_response
from serve_app.billing import ratelimit, stats
from serve_app.billing.accounts import Account
from serve_app.core.errors import JobNotFound, NotYourJob
from serve_app.core.runtime import Runtime
from serve_app.engine import jobs
from serve_app.engine.jobs import Job

router = APIRouter(tags=["jobs"])
UNLIMITED = 10**9


async def owned_poll(request: Request, rt: Runtime, account: Account, job_id: str):
    """The job (rate-limited as a status poll, in one round trip) if it is the caller's."""
    plan = plan_of(rt, account)
    limit = plan.limit(polling.RATE_CLASS) or UNLIMITED
    found = await polling.poll(rt, account, limit, plan.name, jobs.check_job_id(job_id))
    request.state.rate_headers = found.rate.headers()
    if not found.rate.allowed:
        raise ratelimit.exceeded(found.rate)
    owned(found.job, account)
    return found


def owned(job: Job | None, account: Account) -> Job:
    if job is None:
        raise JobNotFound()
    if job.account != account.id:
        raise NotYourJob()
    return job


@router.get("/v1/jobs/{job_id}")
async def get_job(job_id: str, request: Request):
    # The hottest route (clients poll it every few seconds): resolved by hand rather than
    # through dependencies, which cost about a third of its CPU in FastAPI.
    rt = get_runtime(request)
    account = await current_account(request, rt)
    return poll_response(rt, await owned_poll(request, rt, account, job_id), request)


@router.get("/v1/jobs")
async def list_jobs(
    account: CreditsAccount,
    rt: RuntimeDep,
    limit: int = Query(20, ge=1, le=100),
    before: float | None = Query(None, description="a job's `created`: the page after it"),
) -> dict:
    found = await stats.recent_jobs(rt, account.id, limit, before)
    more = len(found) == limit
    return {"ok": True, "jobs": found, "next_before": found[-1]["created"] if more else None}

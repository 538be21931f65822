"""Job status and result download, scoped to the calling account (or a signed URL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Query, Request

from serve_app.api import polling, signing
from serve_app.api.deps import (
    RuntimeDep,
    apply_rate_limit,
    current_account,
    get_runtime,
    plan_of,
)
from serve_app.api.results import file_response, poll_response
from serve_app.billing import ratelimit
from serve_app.billing.accounts import Account
from serve_app.core.errors import InvalidParameter, JobFailed, JobNotFound, NotReady, NotYourJob
from serve_app.core.runtime import Runtime
from serve_app.engine import images, jobs
from serve_app.engine.execution import face_key
from serve_app.engine.jobs import JobStatus

router = APIRouter(tags=["jobs"])
UNLIMITED = 10**9


@router.get("/v1/jobs/{job_id}")
async def get_job(job_id: str, request: Request):
    # The hottest route (clients poll it every few seconds): resolved by hand rather than
    # through dependencies, which cost about a third of its CPU in FastAPI.
    rt = get_runtime(request)
    account = await current_account(request, rt)
    plan = plan_of(rt, account)
    limit = plan.limit(polling.RATE_CLASS) or UNLIMITED
    found = await polling.poll(rt, account, limit, plan.name, jobs.check_job_id(job_id))
    request.state.rate_headers = found.rate.headers()
    if not found.rate.allowed:
        raise ratelimit.exceeded(found.rate)
    if found.job is None:
        raise JobNotFound()
    if found.job.get("account") != account.id:
        raise NotYourJob()
    return poll_response(rt, found, request)


async def _download_access(request: Request, rt: Runtime, job_id: str) -> dict[str, str]:
    """A signed URL opens the result without a key; otherwise the owner's key is needed.
    Either way the download counts against the owner's `result` limit."""
    job = await jobs.load(rt, jobs.check_job_id(job_id))
    params = request.query_params
    if job and signing.valid(
        rt.settings.url_secret, job_id, params.get("exp"), params.get("sig"), rt.clock()
    ):
        owner = Account(job["account"], await _plan(rt, job["account"]), False)
        await apply_rate_limit(request, rt, owner, "result")
        return job
    account = await current_account(request, rt)
    await apply_rate_limit(request, rt, account, "result")
    if job is None:
        raise JobNotFound()
    if job.get("account") != account.id:
        raise NotYourJob()
    return job


async def _plan(rt: Runtime, account_id: str) -> str:
    return await rt.redis.hget(rt.keys.account(account_id), "plan") or "free"


@router.get("/v1/jobs/{job_id}/download")
async def download(
    job_id: str,
    request: Request,
    rt: RuntimeDep,
    download: bool = False,
    format: str | None = Query(None, description="png, jpg or webp: convert on the way out"),
    quality: int | None = Query(None, ge=1, le=100, description="for jpg and webp"),
):
    job = await _download_access(request, rt, job_id)
    if job["status"] == JobStatus.FAILED:
        raise JobFailed(f"The job failed ({job.get('error_code')}); there is no result.")
    if job["status"] != JobStatus.DONE:
        raise NotReady(f"The job is {job['status']}; poll GET /v1/jobs/{job_id} until done.")
    key, fmt = await _variant(rt, job, format, quality)
    return await file_response(request, rt, job, key, fmt, download)


@router.get("/v1/jobs/{job_id}/faces/{index}")
async def download_face(job_id: str, index: int, request: Request, rt: RuntimeDep):
    """One restored face (512x512 PNG) of a restore-face job, largest face first."""
    job = await _download_access(request, rt, job_id)
    if job["status"] != JobStatus.DONE:
        raise NotReady(f"The job is {job['status']}; faces come with the finished result.")
    if not 0 <= index < int(job.get("faces") or 0):
        raise JobNotFound(f"This job has {int(job.get('faces') or 0)} faces; no face {index}.")
    return await file_response(request, rt, job, face_key(job_id, index), "png", attach=False)


async def _variant(rt: Runtime, job: dict[str, str], fmt: str | None, quality: int | None):
    stored_key = job["result_key"]
    stored_fmt = Path(stored_key).suffix.lstrip(".")
    wanted = (fmt or stored_fmt).lower().replace("jpeg", "jpg")
    if wanted not in images.OUTPUT_FORMATS:
        raise InvalidParameter("format must be one of png, jpg, webp.")
    if wanted == stored_fmt and (quality is None or wanted == "png"):
        return stored_key, stored_fmt
    key = f"results/{job['job_id']}.q{quality or images.DEFAULT_QUALITY}.{wanted}"
    if await rt.blobs.stat(key) is None:
        decoded = images.decode(await rt.blobs.get(stored_key))
        data = await asyncio.to_thread(
            images.encode, decoded.rgb, decoded.alpha, wanted, quality or images.DEFAULT_QUALITY
        )
        await rt.blobs.put(key, data)
    return key, wanted

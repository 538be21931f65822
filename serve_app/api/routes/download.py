"""A finished job's files: the result (converted on the way out if asked) and the extra
results (restored faces), for the owner's key or a signed URL."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request

from serve_app.api import signing
from serve_app.api.deps import RuntimeDep, api_key_from, apply_rate_limit, current_account
from serve_app.api.results import file_response
from serve_app.api.routes.status import owned
from serve_app.billing.accounts import Account
from serve_app.core.errors import (
    InvalidParameter,
    InvalidSignature,
    JobFailed,
    JobNotFound,
    NotReady,
)
from serve_app.core.keyspace import Blobs
from serve_app.core.runtime import Runtime
from serve_app.engine import images, jobs
from serve_app.engine.jobs import Job, JobStatus

router = APIRouter(tags=["jobs"])


async def _download_access(request: Request, rt: Runtime, job_id: str) -> Job:
    """A signed URL opens the result without a key; otherwise the owner's key is needed.
    Either way the download counts against the owner's `result` limit."""
    job = await jobs.load(rt, jobs.check_job_id(job_id))
    params = request.query_params
    if job and signing.valid(
        rt.settings.url_secret, job_id, params.get("exp"), params.get("sig"), rt.clock()
    ):
        owner = Account(job.account, await _plan(rt, job.account), False)
        await apply_rate_limit(request, rt, owner, "result")
        return job
    if ("sig" in params or "exp" in params) and not api_key_from(request):
        raise _bad_signature(params.get("exp"), rt.clock(), job_id)
    account = await current_account(request, rt)
    await apply_rate_limit(request, rt, account, "result")
    return owned(job, account)


def _bad_signature(expires: str | None, now: float, job_id: str) -> InvalidSignature:
    """A signed URL that does not open: said as such (not as a missing key)."""
    late = expires is not None and expires.isdigit() and int(expires) < now
    what = "has expired" if late else "does not match"
    return InvalidSignature(
        f"This signed URL {what}; GET /v1/jobs/{job_id} with your key gives a fresh result_url."
    )


async def _plan(rt: Runtime, account_id: str) -> str:
    return await rt.redis.hget(rt.keys.account(account_id), "plan") or "free"


def finished(job: Job, poll_path: str) -> Job:
    """The job, when it has a result; the failure or the wait otherwise."""
    if job.status == JobStatus.FAILED:
        raise JobFailed(f"The job failed ({job.error_code}); there is no result.")
    if job.status != JobStatus.DONE:
        raise NotReady(f"The job is {job.status}; poll {poll_path} until done.")
    return job


@router.get("/v1/jobs/{job_id}/download")
async def download(
    job_id: str,
    request: Request,
    rt: RuntimeDep,
    download: bool = False,
    format: str | None = Query(None, description="png, jpg or webp: convert on the way out"),
    quality: int | None = Query(None, ge=1, le=100, description="for jpg and webp"),
):
    job = finished(await _download_access(request, rt, job_id), f"GET /v1/jobs/{job_id}")
    key, fmt = await _variant(rt, job, format, quality)
    return await file_response(request, rt, job, key, fmt, download)


@router.get("/v1/jobs/{job_id}/faces/{index}")
async def download_face(job_id: str, index: int, request: Request, rt: RuntimeDep):
    """One restored face (512x512 PNG) of a restore-face job, largest face first."""
    job = await _download_access(request, rt, job_id)
    if job.status != JobStatus.DONE:
        raise NotReady(f"The job is {job.status}; faces come with the finished result.")
    return await face_response(request, rt, job, index)


async def face_response(request: Request, rt: Runtime, job: Job, index: int):
    if not 0 <= index < job.faces:
        raise JobNotFound(f"This job has {job.faces} faces; no face {index}.")
    return await file_response(request, rt, job, Blobs.face(job.job_id, index), "png", False)


async def _variant(rt: Runtime, job: Job, fmt: str | None, quality: int | None):
    stored_key, stored_fmt = job.result_key, job.result_format
    wanted = (fmt or stored_fmt).lower().replace("jpeg", "jpg")
    if wanted not in images.OUTPUT_FORMATS:
        raise InvalidParameter("format must be one of png, jpg, webp.")
    if wanted == stored_fmt and (quality is None or wanted == "png"):
        return stored_key, stored_fmt
    quality = quality or images.DEFAULT_QUALITY
    key = Blobs.variant(job.job_id, quality, wanted)
    if await rt.blobs.stat(key) is None:
        decoded = images.decode(await rt.blobs.get(stored_key))
        data = await asyncio.to_thread(images.encode, decoded.rgb, decoded.alpha, wanted, quality)
        await rt.blobs.put(key, data)
    return key, wanted

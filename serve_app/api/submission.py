"""What every submit route shares: plan check, Idempotency-Key, the atomic submit, and sync
mode (`?wait=N`: the finished job's body, or its image with `Accept: image/*`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.responses import Response

from serve_app.api import waiting
from serve_app.api.inputs import Submission, read_submission
from serve_app.api.responses import OrjsonResponse
from serve_app.api.results import file_response, job_response
from serve_app.billing import credits, idempotency
from serve_app.billing.accounts import Account
from serve_app.core.errors import OperationNotAllowed
from serve_app.core.runtime import Runtime
from serve_app.engine import jobs
from serve_app.engine.images import ImageInfo
from serve_app.engine.jobs import JobStatus, NewJob


@dataclass
class Prepared:
    job: NewJob
    size_label: str
    mask: bytes | None = None  # normalised mask PNG, stored at job.params["mask_key"]


Prepare = Callable[[Runtime, Account, Submission], Awaitable[Prepared]]


def new_job(
    account: Account, operation: str, cost: int, params: dict, info: ImageInfo, job_id: str = ""
) -> NewJob:
    """A job for an uploaded image; its input is stored under the job's own id."""
    job = NewJob(account.id, operation, cost, params, "", info.width, info.height)
    if job_id:
        job.job_id = job_id
    job.input_key = f"inputs/{job.job_id}.{info.format}"
    return job


def check_plan(rt: Runtime, account: Account, operation: str) -> None:
    if rt.plans.exists(account.plan) and not rt.plans.get(account.plan).allows(operation):
        raise OperationNotAllowed(f"The {account.plan} plan does not include {operation}.")


async def submit(
    request: Request,
    rt: Runtime,
    account: Account,
    operation: str,
    prepare: Prepare,
    default_wait_s: float = 0.0,
) -> Response:
    check_plan(rt, account, operation)
    wait_s = waiting.parse_wait(
        request.query_params.get("wait"), rt.settings.max_wait_s, default_wait_s
    )
    submission = await read_submission(request, rt.settings)
    fingerprint = idempotency.fingerprint(
        request.url.path, submission.params, submission.image + (submission.mask or b"")
    )
    claim = await idempotency.claim(
        rt, account.id, request.headers.get("idempotency-key"), fingerprint
    )
    if claim is not None and claim.replay is not None:
        body, headers = claim.replay, {"Idempotent-Replayed": "true"}
    else:
        try:
            body = await accept(rt, account, submission, prepare, claim)
        except BaseException:
            await idempotency.abandon(rt, claim)
            raise
        headers = {}
    if wait_s > 0:
        finished = await waiting.until_finished(rt, body["job_id"], wait_s)
        if finished is not None:
            return await _finished_response(request, rt, finished)
    return OrjsonResponse(body, status_code=202, headers=headers)


async def accept(
    rt: Runtime, account: Account, submission: Submission, prepare: Prepare, claim=None
) -> dict:
    """Store the input, then reserve and enqueue in one script; the native 202 body."""
    prepared = await prepare(rt, account, submission)
    job = prepared.job
    await rt.blobs.put(job.input_key, submission.image)
    mask_key = job.params.get("mask_key")
    if mask_key:
        await rt.blobs.put(mask_key, prepared.mask)
    body = {"ok": True, "job_id": job.job_id, "status": "queued", "cost": job.cost}
    try:
        remaining = await jobs.submit(
            rt,
            job,
            credits.quota(rt, account.plan),
            prepared.size_label,
            claim.record(body) if claim else None,
        )
    except BaseException:
        await rt.blobs.delete(job.input_key)
        if mask_key:
            await rt.blobs.delete(mask_key)
        raise
    return {**body, "remaining": remaining}


async def _finished_response(request: Request, rt: Runtime, job: dict[str, str]) -> Response:
    wants_image = request.headers.get("accept", "").startswith("image/")
    if wants_image and job["status"] == JobStatus.DONE:
        key = job["result_key"]
        return await file_response(request, rt, job, key, key.rsplit(".", 1)[-1], attach=False)
    return await job_response(rt, job, request)

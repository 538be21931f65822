"""POST /v1/upscale: validate, price, reserve, enqueue; answers 202 with the job id."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serve_app import credits, idempotency, images, jobs, upscale
from serve_app.accounts import Account
from serve_app.api.deps import RuntimeDep, UploadAccount
from serve_app.api.docs import SUBMIT_DOC
from serve_app.errors import OperationNotAllowed
from serve_app.inputs import Submission, read_submission
from serve_app.jobs import NewJob
from serve_app.responses import OrjsonResponse
from serve_app.runtime import Runtime

router = APIRouter(tags=["operations"])


def check_plan(rt: Runtime, account: Account, operation: str) -> None:
    if rt.plans.exists(account.plan) and not rt.plans.get(account.plan).allows(operation):
        raise OperationNotAllowed(f"The {account.plan} plan does not include {operation}.")


@router.post("/v1/upscale", status_code=202, openapi_extra=SUBMIT_DOC)
async def submit_upscale(request: Request, account: UploadAccount, rt: RuntimeDep):
    """Upscale a photo x2 / x4 or to HD, FHD, 2K, 4K with Real-ESRGAN.

    Send `Idempotency-Key` to make retries safe: the same key and payload return the
    original job instead of a second one."""
    check_plan(rt, account, upscale.OPERATION)
    submission = await read_submission(request, rt.settings)
    fingerprint = idempotency.fingerprint(request.url.path, submission.params, submission.image)
    claim = await idempotency.claim(
        rt, account.id, request.headers.get("idempotency-key"), fingerprint
    )
    if claim is not None and claim.replay is not None:
        return OrjsonResponse(
            claim.replay, status_code=202, headers={"Idempotent-Replayed": "true"}
        )
    try:
        body = await _accept(rt, account, submission, claim)
    except BaseException:
        await idempotency.abandon(rt, claim)
        raise
    return OrjsonResponse(body, status_code=202)


async def _accept(rt: Runtime, account: Account, submission: Submission, claim) -> dict:
    settings = rt.settings
    info = images.inspect(submission.image, settings.max_image_bytes, settings.max_upscale_edge)
    plan = upscale.plan(submission.params, info, rt.catalog, rt.plans, settings.max_output_edge)
    job = NewJob(
        account.id, upscale.OPERATION, plan.cost, plan.params(), "", info.width, info.height
    )
    job.input_key = f"inputs/{job.job_id}.{info.format}"
    await rt.blobs.put(job.input_key, submission.image)
    body = {"ok": True, "job_id": job.job_id, "status": "queued", "cost": plan.cost}
    try:
        remaining = await jobs.submit(
            rt,
            job,
            credits.quota(rt, account.plan),
            plan.size_label,
            claim.record(body) if claim else None,
        )
    except BaseException:
        await rt.blobs.delete(job.input_key)
        raise
    return {**body, "remaining": remaining}

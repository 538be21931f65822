"""POST /v1/upscale: validate, price, reserve, enqueue; answers 202 with the job id."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serve_app import images, jobs, upscale
from serve_app.api.deps import CurrentAccount, RuntimeDep
from serve_app.api.docs import SUBMIT_DOC
from serve_app.errors import OutOfCredits
from serve_app.inputs import read_submission
from serve_app.jobs import NewJob
from serve_app.responses import OrjsonResponse

router = APIRouter(tags=["operations"])


@router.post("/v1/upscale", status_code=202, openapi_extra=SUBMIT_DOC)
async def submit_upscale(request: Request, account: CurrentAccount, rt: RuntimeDep):
    """Upscale a photo x2 / x4 or to HD, FHD, 2K, 4K with Real-ESRGAN."""
    settings = rt.settings
    submission = await read_submission(request, settings)
    info = images.inspect(submission.image, settings.max_image_bytes, settings.max_upscale_edge)
    plan = upscale.plan(submission.params, info, rt.catalog, rt.plans, settings.max_output_edge)
    job = NewJob(
        account.id, upscale.OPERATION, plan.cost, plan.params(), "", info.width, info.height
    )
    job.input_key = f"inputs/{job.job_id}.{info.format}"
    await rt.blobs.put(job.input_key, submission.image)
    try:
        remaining = await jobs.submit(rt, job)
    except OutOfCredits:
        await rt.blobs.delete(job.input_key)
        raise
    body = {
        "ok": True,
        "job_id": job.job_id,
        "status": "queued",
        "cost": plan.cost,
        "remaining": remaining,
    }
    return OrjsonResponse(body, status_code=202)

"""POST /v1/upscale: validate, price, reserve, enqueue; answers 202 with the job id."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serve_app.api import submission
from serve_app.api.deps import RuntimeDep, UploadAccount
from serve_app.api.docs import SUBMIT_DOC
from serve_app.api.inputs import Submission
from serve_app.billing.accounts import Account
from serve_app.core.runtime import Runtime
from serve_app.engine import images
from serve_app.operations import upscale

router = APIRouter(tags=["operations"])


async def prepare(rt: Runtime, account: Account, sent: Submission) -> submission.Prepared:
    settings = rt.settings
    info = images.inspect(sent.image, settings.max_image_bytes, settings.max_upscale_edge)
    plan = upscale.plan(sent.params, info, rt.catalog, rt.plans, settings.max_output_edge)
    job = submission.new_job(account, upscale.OPERATION, plan.cost, plan.params(), info)
    return submission.Prepared(job, plan.size_label)


@router.post("/v1/upscale", status_code=202, openapi_extra=SUBMIT_DOC)
async def submit_upscale(request: Request, account: UploadAccount, rt: RuntimeDep):
    """Upscale a photo x2 / x4 or to HD, FHD, 2K, 4K with Real-ESRGAN.

    `Idempotency-Key` makes retries safe (the same key and payload return the original job);
    `?wait=N` (up to 60 s) answers with the finished job, or its image with `Accept: image/*`."""
    return await submission.submit(request, rt, account, upscale.OPERATION, prepare)

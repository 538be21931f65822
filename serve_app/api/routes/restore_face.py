"""POST /v1/restore-face: GFPGAN face restoration over a (optionally upscaled) background."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serve_app.api import submission
from serve_app.api.deps import RuntimeDep, UploadAccount
from serve_app.api.docs import RESTORE_DOC
from serve_app.api.inputs import Submission
from serve_app.billing.accounts import Account
from serve_app.core.runtime import Runtime
from serve_app.engine import images
from serve_app.operations import restore_face

router = APIRouter(tags=["operations"])


async def prepare(rt: Runtime, account: Account, sent: Submission) -> submission.Prepared:
    settings = rt.settings
    info = images.inspect(sent.image, settings.max_image_bytes, settings.max_upscale_edge)
    plan = restore_face.plan(sent.params, info, rt.catalog, rt.plans, settings.max_output_edge)
    job = submission.new_job(account, restore_face.OPERATION, plan.cost, plan.params(), info)
    return submission.Prepared(job, plan.size_label)


@router.post("/v1/restore-face", status_code=202, openapi_extra=RESTORE_DOC)
async def submit_restore_face(request: Request, account: UploadAccount, rt: RuntimeDep):
    """Detect up to 10 faces, restore each with GFPGAN v1.4, paste them back over the
    background (`scale` 1, 2, 4 or a `size` tier upscales it with Real-ESRGAN first).
    `fidelity` 0..1 blends restored faces over the originals (0 changes nothing)."""
    return await submission.submit(request, rt, account, restore_face.OPERATION, prepare)

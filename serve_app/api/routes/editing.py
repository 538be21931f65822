"""POST /v1/remove-background, /v1/segment, /v1/erase-object, /v1/inpaint, /v1/enhance:
PixelForge's editing operations. One handler shape for all of them; what differs is the
planner in serve_app/editing.py.

The handlers are plain module functions on purpose: Serve pickles the app into its replica
and re-analyses the routes there, and closures came back with `request` read as a query
parameter."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from serve_app.api import submission
from serve_app.api.deps import RuntimeDep, UploadAccount
from serve_app.api.docs import EDIT_DOCS
from serve_app.api.inputs import Submission
from serve_app.billing.accounts import Account
from serve_app.core.runtime import Runtime
from serve_app.engine import images
from serve_app.operations import _editing as editing

router = APIRouter(tags=["operations"])


async def prepare(
    operation: str, rt: Runtime, account: Account, sent: Submission
) -> submission.Prepared:
    settings = rt.settings
    info = images.inspect(sent.image, settings.max_image_bytes, settings.max_edit_edge)
    planner = editing.PLANNERS[operation]
    # the mask is decoded and checked here (a few ms), off the event loop
    plan = await asyncio.to_thread(planner, sent.params, info, rt.catalog, rt.plans, sent.mask)
    job = submission.new_job(account, operation, plan.cost, dict(plan.params), info)
    if plan.mask is not None:
        job.params["mask_key"] = f"inputs/{job.job_id}.mask.png"
    return submission.Prepared(job, "original", plan.mask)


# segment is the interactive building block: it answers with the finished mask unless told
# otherwise (`?wait=0` for a job id at once); the others answer 202 at once unless `?wait`
DEFAULT_WAIT_S = {"segment": 30.0}


def _submit(operation: str, request: Request, account: Account, rt: Runtime):
    async def prepare_this(rt: Runtime, account: Account, sent: Submission):
        return await prepare(operation, rt, account, sent)

    wait_s = DEFAULT_WAIT_S.get(operation, 0.0)
    return submission.submit(request, rt, account, operation, prepare_this, wait_s)


@router.post("/v1/remove-background", status_code=202, openapi_extra=EDIT_DOCS["remove-background"])
async def submit_remove_background(request: Request, account: UploadAccount, rt: RuntimeDep):
    """Remove the background (U²-Net matte refined at full resolution). RGBA png/webp;
    `bg_color` fills it instead; `only_mask` returns the matte."""
    return await _submit("remove-background", request, account, rt)


@router.post("/v1/segment", status_code=202, openapi_extra=EDIT_DOCS["segment"])
async def submit_segment(request: Request, account: UploadAccount, rt: RuntimeDep):
    """A mask from clicks (Segment Anything): `points` [[x, y, label], ...] and/or `box`
    [x0, y0, x1, y1]. Free; clicks on the same photo reuse its embedding. Synchronous by
    default: the finished job (or the mask, with `Accept: image/png`) within 30 s, else 202;
    `?wait=0` answers 202 at once."""
    return await _submit("segment", request, account, rt)


@router.post("/v1/erase-object", status_code=202, openapi_extra=EDIT_DOCS["erase-object"])
async def submit_erase_object(request: Request, account: UploadAccount, rt: RuntimeDep):
    """Erase what the `mask` covers (white = erase) with LaMa; or give `points`/`box` and the
    mask is found with Segment Anything first."""
    return await _submit("erase-object", request, account, rt)


@router.post("/v1/inpaint", status_code=202, openapi_extra=EDIT_DOCS["inpaint"])
async def submit_inpaint(request: Request, account: UploadAccount, rt: RuntimeDep):
    """Repaint the masked area from a `prompt` (Stable Diffusion inpainting): `steps` 30,
    `cfg_scale` 7.0, `strength` 0.85, `seed`."""
    return await _submit("inpaint", request, account, rt)


@router.post("/v1/enhance", status_code=202, openapi_extra=EDIT_DOCS["enhance"])
async def submit_enhance(request: Request, account: UploadAccount, rt: RuntimeDep):
    """Fix white balance, exposure, contrast and saturation (measured from the photo, scaled
    by `strength`); `color` -10 cool .. +10 warm; `denoise` adds Real-ESRGAN at scale 1."""
    return await _submit("enhance", request, account, rt)

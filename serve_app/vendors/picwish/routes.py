"""PicWish's scale task: POST /api/tasks/visual/scale and GET /api/tasks/visual/scale/{id},
on the shared submit path (its reader, price and bodies as a `SubmitStyle`), so
`Idempotency-Key` works here too and `sync=1` is the native `?wait`."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request
from starlette.responses import Response

from serve_app import operations
from serve_app.api import submission
from serve_app.api.deps import api_key_from, apply_rate_limit, authenticate, get_runtime
from serve_app.api.inputs import Submission
from serve_app.api.responses import OrjsonResponse
from serve_app.api.results import base_url, file_response
from serve_app.api.routes.status import owned_poll
from serve_app.api.views import download_url, url_expiry
from serve_app.billing.accounts import Account
from serve_app.core.errors import MissingKey
from serve_app.core.runtime import Runtime
from serve_app.engine import images, jobs
from serve_app.engine.jobs import Job, JobStatus
from serve_app.vendors.picwish import mapping, reading

router = APIRouter(prefix="/api/tasks", tags=["PicWish compatible"])


async def picwish_account(request: Request, rt: Runtime, rate_class: str | None) -> Account:
    key = api_key_from(request)
    if key is None:
        raise MissingKey("Send your API key in the X-API-KEY header.")
    account = await authenticate(request, rt, key)
    if rate_class is not None:
        await apply_rate_limit(request, rt, account, rate_class)
    return account


def _seconds(moment: float | None) -> int | None:
    return None if moment is None else int(moment)


async def _image(request: Request, rt: Runtime, job: Job) -> str:
    if job.params.get(mapping.RETURN) == mapping.BASE64:
        return base64.b64encode(await rt.blobs.get(job.result_key)).decode()
    expires = url_expiry(job, rt.settings, rt.clock(), mapping.URL_TTL_S)
    return download_url(job, "download", base_url(request, rt), rt.settings.url_secret, expires)


async def task_body(request: Request, rt: Runtime, job: Job) -> dict:
    data = {
        "task_id": job.job_id,
        "created_at": _seconds(job.created_at),
        "processed_at": _seconds(job.started_at),
        "completed_at": _seconds(job.completed_at),
        "progress": job.progress,
        "state": mapping.STATE[job.status],
    }
    if job.status == JobStatus.DONE:
        data["image"] = await _image(request, rt, job)
    failed = job.status == JobStatus.FAILED
    message = f"{job.error_code}: {job.error_detail}" if failed else "success"
    return {"status": 200, "message": message, "data": data}


async def accepted(request: Request, rt: Runtime, account: Account, native: dict) -> Response:
    body = {"status": 200, "message": "success", "data": {"task_id": native["job_id"]}}
    return OrjsonResponse(body)


async def finished(request: Request, rt: Runtime, account: Account, job: Job) -> Response:
    if job.status == JobStatus.DONE and job.params.get(mapping.RETURN) == mapping.BINARY:
        return await file_response(request, rt, job, job.result_key, job.result_format, False)
    return OrjsonResponse(await task_body(request, rt, job))


STYLE = submission.SubmitStyle(
    limits=lambda settings, op: (mapping.MAX_BYTES, mapping.MAX_EDGE),
    formats=mapping.FORMATS,
    map=mapping.mapped,
    price=mapping.price,
    accepted=accepted,
    finished=finished,
)


@router.post("/visual/scale")
async def create_scale_task(request: Request) -> Response:
    """Create an enhancement task (`sync=1`: wait for it, up to the server's wait limit)."""
    rt = get_runtime(request)
    account = await picwish_account(request, rt, "upload")
    sent = await reading.read(request, rt.settings)
    task = mapping.ScaleTask.read(sent.params)
    info = images.inspect(sent.image, mapping.MAX_BYTES, mapping.MAX_EDGE, mapping.FORMATS)
    name, params = mapping.native(task, info)
    wait_s = rt.settings.max_wait_s if task.sync else 0.0
    op, read = operations.get(name), Submission(sent.image, params)
    return await submission.submit_read(request, rt, account, op, read, STYLE, wait_s)


@router.get("/visual/scale/{task_id}")
async def get_scale_task(request: Request, task_id: str) -> OrjsonResponse:
    rt = get_runtime(request)
    account = await picwish_account(request, rt, None)  # poll.lua applies the status limit
    found = await owned_poll(request, rt, account, jobs.check_job_id(task_id))
    return OrjsonResponse(await task_body(request, rt, found.job))

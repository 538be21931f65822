"""Job status and result download, scoped to the calling account."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import FileResponse

from serve_app import jobs
from serve_app.accounts import Account
from serve_app.api.deps import ResultAccount, RuntimeDep, StatusAccount
from serve_app.errors import JobFailed, JobNotFound, NotReady, NotYourJob
from serve_app.jobs import JobStatus
from serve_app.responses import OrjsonResponse
from serve_app.runtime import Runtime
from serve_app.views import job_body

router = APIRouter(tags=["jobs"])


async def owned_job(rt: Runtime, account: Account, job_id: str) -> dict[str, str]:
    job = await jobs.load(rt, jobs.check_job_id(job_id))
    if job is None:
        raise JobNotFound()
    if job.get("account") != account.id:
        raise NotYourJob()
    return job


def base_url(request: Request, rt: Runtime) -> str:
    return rt.settings.public_base_url or str(request.base_url)


@router.get("/v1/jobs/{job_id}")
async def get_job(job_id: str, request: Request, account: StatusAccount, rt: RuntimeDep):
    job = await owned_job(rt, account, job_id)
    body = job_body(job, base_url(request, rt))
    if job["status"] == JobStatus.DONE:
        body["deducted_this_call"] = await jobs.first_report(rt, job_id)
    return OrjsonResponse(body)


@router.get("/v1/jobs/{job_id}/download")
async def download(job_id: str, account: ResultAccount, rt: RuntimeDep, download: bool = False):
    job = await owned_job(rt, account, job_id)
    if job["status"] == JobStatus.FAILED:
        raise JobFailed(f"The job failed ({job.get('error_code')}); there is no result.")
    if job["status"] != JobStatus.DONE:
        raise NotReady(f"The job is {job['status']}; poll GET /v1/jobs/{job_id} until done.")
    path = rt.blobs.path(job["result_key"])
    if not path.is_file():
        raise JobNotFound("The result has expired.")
    filename = f"{job_id}{path.suffix}"
    return FileResponse(
        path,
        media_type=job.get("content_type"),
        filename=filename if download else None,
        content_disposition_type="attachment" if download else "inline",
    )

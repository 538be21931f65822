"""Rendering a job for its owner: the status body with polling hints, the result file with
caching headers. Shared by the status/download routes and sync-mode submits."""

from __future__ import annotations

import math

from fastapi import Request
from starlette.responses import FileResponse, Response

from serve_app.api.polling import DEFAULT_JOB_SECONDS, Poll
from serve_app.api.responses import OrjsonResponse
from serve_app.api.views import public_job
from serve_app.core.errors import JobNotFound
from serve_app.core.runtime import Runtime
from serve_app.engine import images, jobs
from serve_app.engine.jobs import Job, JobStatus

# Below this a result goes out as one ASGI message: behind Serve's proxy every message is a
# Ray object, and FileResponse's 64 KB chunks cost ~10-20 CPU-ms per 1.5 MB result here.
ONE_MESSAGE_MAX_BYTES = 16 * 1024 * 1024


def base_url(request: Request, rt: Runtime) -> str:
    return rt.settings.public_base_url or str(request.base_url)


def polling_interval(job: Job, depth: int, per_job_s: float, workers: int) -> int:
    """Seconds until a poll is worth making: a third of the expected time left, 1..10 s."""
    if job.status == JobStatus.PROCESSING:
        left = per_job_s * (1 - job.progress / 100)
    else:
        left = per_job_s * (depth / max(1, workers) + 1)
    return max(1, min(10, math.ceil(left / 3)))


def render(
    rt: Runtime, job: Job, request: Request, first_done: bool, depth: int, per_job: float
) -> OrjsonResponse:
    body = public_job(job, base_url(request, rt), rt.settings, rt.clock())
    headers = {}
    if job.status == JobStatus.DONE:
        body["deducted_this_call"] = first_done
    elif not job.finished:
        interval = polling_interval(job, depth, per_job, rt.settings.dispatch_concurrency)
        body["polling_interval"] = interval
        headers["Retry-After"] = str(interval)
    return OrjsonResponse(body, headers=headers)


def poll_response(rt: Runtime, found: Poll, request: Request) -> OrjsonResponse:
    return render(rt, found.job, request, found.first_done, found.depth, found.per_job_s)


async def job_response(rt: Runtime, job: Job, request: Request) -> OrjsonResponse:
    """A finished job's body (sync mode)."""
    first = job.status == JobStatus.DONE and await jobs.first_report(rt, job.job_id)
    return render(rt, job, request, first, 0, DEFAULT_JOB_SECONDS)


async def file_response(
    request: Request, rt: Runtime, job: Job, key: str, fmt: str, attach: bool
) -> Response:
    """The stored result with caching headers; 304 for a matching If-None-Match."""
    stat = await rt.blobs.stat(key)
    if stat is None:
        raise JobNotFound("The result has expired.")
    etag = f'"{stat.size:x}-{int(stat.modified * 1e6):x}"'
    kept_until = (job.completed_at or rt.clock()) + rt.settings.result_ttl_for(job.params)
    max_age = max(0, int(kept_until - rt.clock()))
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={max_age}"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    filename = f"{job.job_id}.{fmt}"
    media_type = images.CONTENT_TYPES[fmt]
    local = rt.blobs.local_path(key)
    if local is not None and stat.size > ONE_MESSAGE_MAX_BYTES:  # stream big files from disk
        return FileResponse(
            local,
            media_type=media_type,
            headers=headers,
            filename=filename if attach else None,
            content_disposition_type="attachment" if attach else "inline",
        )
    if attach:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(await rt.blobs.get(key), media_type=media_type, headers=headers)

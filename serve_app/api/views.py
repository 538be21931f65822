"""Response bodies built from stored records: a job as its owner sees it, which is also the
`data` of its Standard Webhooks event."""

from __future__ import annotations

from typing import Any

import orjson

from photoserve import webhooks as signatures
from serve_app import operations
from serve_app.api import signing
from serve_app.core.clock import iso
from serve_app.core.settings import Settings
from serve_app.engine.backends import ResultKind
from serve_app.engine.jobs import Job, JobStatus
from serve_app.webhooks.delivery import Event, Message

USER_AGENT = "photoserve-webhooks/1"


def download_url(job: Job, path: str, base_url: str, url_secret: str, expires: int) -> str:
    query = signing.signed_query(url_secret, job.job_id, expires)
    return f"{base_url.rstrip('/')}/v1/jobs/{job.job_id}/{path}?{query}"


def shown(params: dict[str, Any]) -> dict[str, Any]:
    """A job's parameters as its owner sees them: not where the server keeps its files."""
    return {k: v for k, v in params.items() if not k.endswith("_key") and k != "lora_sha256"}


def job_body(job: Job, base_url: str, url_secret: str = "", url_expires: int = 0) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ok": True,
        "job_id": job.job_id,
        "status": job.status.value,
        "operation": job.operation,
        "progress": job.progress,
        "cost": job.cost,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "completed_at": iso(job.completed_at),
        "width": job.width or job.params.get("out_width"),
        "height": job.height or job.params.get("out_height"),
        "params": shown(job.params),
    }
    if job.status == JobStatus.DONE:
        body["result_url"] = download_url(job, "download", base_url, url_secret, url_expires)
        if job.seed is not None:  # inpaint: the seed that made it, to reproduce or vary it
            body["seed"] = job.seed
        if _has_extras(job):  # restore-face: its restored faces
            body["countfaces"] = job.faces
            body["face_urls"] = [
                download_url(job, f"faces/{i}", base_url, url_secret, url_expires)
                for i in range(job.faces)
            ]
    if job.status == JobStatus.FAILED:
        body["error"] = {"code": job.error_code, "detail": job.error_detail}
    return body


def _has_extras(job: Job) -> bool:
    op = operations.find(job.operation)
    return op is not None and op.result is ResultKind.IMAGES


def url_expiry(job: Job, settings: Settings, now: float, ttl_s: int | None = None) -> int:
    """When a result URL handed out now stops working: the signed-URL lifetime, rounded up to
    the hour (so the URL, and caches keyed on it, stay the same for a while), or exactly
    `ttl_s` from now where a vendor promises that; never past the result's own retention."""
    completed = job.completed_at or now
    hourly = -(-(now + settings.signed_url_ttl_s) // 3600) * 3600
    wanted = hourly if ttl_s is None else now + ttl_s
    return int(min(wanted, completed + settings.result_ttl_for(job.params)))


def public_job(job: Job, base_url: str, settings: Settings, now: float) -> dict[str, Any]:
    return job_body(job, base_url, settings.url_secret, url_expiry(job, settings, now))


def standard_webhook(event: Event) -> Message:
    """`{"type", "timestamp", "data": <the job's status body>}`, signed the Standard Webhooks
    way (webhook-id, webhook-timestamp, webhook-signature)."""
    data = public_job(event.job, event.base_url, event.settings, event.now)
    body = orjson.dumps({"type": event.name, "timestamp": iso(event.now), "data": data})
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **signatures.headers(event.secret, event.msg_id, body, int(event.now)),
    }
    return body, headers

"""Response bodies built from stored records."""

from __future__ import annotations

from typing import Any

import orjson

from serve_app.api import signing
from serve_app.core.clock import iso
from serve_app.engine.jobs import JobStatus


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


def result_url(job: dict[str, str], base_url: str, url_secret: str, expires: int) -> str:
    query = signing.signed_query(url_secret, job["job_id"], expires)
    return f"{base_url.rstrip('/')}/v1/jobs/{job['job_id']}/download?{query}"


def face_url(job: dict[str, str], index: int, base_url: str, secret: str, expires: int) -> str:
    query = signing.signed_query(secret, job["job_id"], expires)
    return f"{base_url.rstrip('/')}/v1/jobs/{job['job_id']}/faces/{index}?{query}"


def job_body(
    job: dict[str, str], base_url: str, url_secret: str = "", url_expires: int = 0
) -> dict[str, Any]:
    params = orjson.loads(job.get("params") or "{}")
    status = job["status"]
    body: dict[str, Any] = {
        "ok": True,
        "job_id": job["job_id"],
        "status": status,
        "operation": job["operation"],
        "progress": _int(job.get("progress")) or 0,
        "cost": _int(job.get("cost")),
        "created_at": iso(job.get("created_at")),
        "started_at": iso(job.get("started_at")),
        "completed_at": iso(job.get("completed_at")),
        "width": _int(job.get("width")) or params.get("out_width"),
        "height": _int(job.get("height")) or params.get("out_height"),
        "params": params,
    }
    if status == JobStatus.DONE:
        body["result_url"] = result_url(job, base_url, url_secret, url_expires)
        if job.get("seed"):  # inpaint: the seed that made it, to reproduce or vary it
            body["seed"] = int(job["seed"])
        faces = _int(job.get("faces")) or 0
        if job["operation"] == "restore-face":
            body["countfaces"] = faces
            body["face_urls"] = [
                face_url(job, index, base_url, url_secret, url_expires) for index in range(faces)
            ]
    if status == JobStatus.FAILED:
        body["error"] = {"code": job.get("error_code"), "detail": job.get("error_detail")}
    return body


def url_expiry(job: dict[str, str], settings, now: float) -> int:
    """When a result URL handed out now stops working: the signed-URL lifetime, rounded up to
    the hour (so the URL, and caches keyed on it, stay the same for a while), but never past
    the result's own retention."""
    completed = float(job.get("completed_at") or now)
    wanted = -(-(now + settings.signed_url_ttl_s) // 3600) * 3600
    return int(min(wanted, completed + settings.result_ttl_s))


def public_job(job: dict[str, str], base_url: str, settings, now: float) -> dict[str, Any]:
    return job_body(job, base_url, settings.url_secret, url_expiry(job, settings, now))

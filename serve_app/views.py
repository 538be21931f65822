"""Response bodies built from stored records."""

from __future__ import annotations

from typing import Any

import orjson

from serve_app.clock import iso
from serve_app.jobs import JobStatus


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


def job_body(job: dict[str, str], base_url: str) -> dict[str, Any]:
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
        body["result_url"] = f"{base_url.rstrip('/')}/v1/jobs/{job['job_id']}/download"
    if status == JobStatus.FAILED:
        body["error"] = {"code": job.get("error_code"), "detail": job.get("error_detail")}
    return body

"""PND AI's webhook contract: its event body, `User-Agent: PNDAI-Webhook/1.0` and
`X-PNDAI-Signature: sha256=<hex HMAC-SHA256 of the body>`."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from serve_app.engine.jobs import Job
from serve_app.vendors.pnd.mapping import ENDPOINT
from serve_app.webhooks.delivery import Event, Message

STYLE = "pnd"
USER_AGENT = "PNDAI-Webhook/1.0"


def result_url(base_url: str, job_id: str, face: int | None = None) -> str:
    url = f"{base_url.rstrip('/')}/api/result/?job_id={job_id}"
    return url if face is None else f"{url}&face={face}"


def payload(event: str, job: Job, base_url: str, now: float) -> dict[str, Any]:
    return {
        "event": event,
        "job_id": job.job_id,
        "endpoint": ENDPOINT.get(job.operation, "v1"),
        "size": job.params.get("size") or job.size_label,
        "cost": job.cost,
        "result_url": result_url(base_url, job.job_id),
        "countfaces": job.faces,
        "timestamp": int(now),
    }


def render(event: Event) -> Message:
    body = orjson.dumps(payload(event.name, event.job, event.base_url, event.now))
    digest = hmac.new(event.secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "x-pndai-signature": f"sha256={digest}",
    }
    return body, headers

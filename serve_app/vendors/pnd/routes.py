"""PND AI's API under /api/ (upload, uploadv2, status, result, credits, rotate, webhook, stats),
so PND's sample clients work with only the base URL and key changed.

Uploads go through the native submit path (PND's limits, fields, job ids and bodies as its
`SubmitStyle`), so `Idempotency-Key` and `?wait=N` work here as they do natively.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from serve_app import operations
from serve_app.api import submission
from serve_app.api.deps import api_key_from, apply_rate_limit, authenticate, get_runtime, plan_of
from serve_app.api.responses import OrjsonResponse
from serve_app.api.results import base_url, file_response
from serve_app.api.routes.download import face_response, finished
from serve_app.api.routes.status import owned, owned_poll
from serve_app.billing import accounts, credits, stats
from serve_app.billing.accounts import Account
from serve_app.billing.apikeys import PREFIX
from serve_app.core.errors import InvalidJobId, InvalidKeyFormat, MissingKey
from serve_app.core.runtime import Runtime
from serve_app.engine import jobs
from serve_app.engine.jobs import Job, JobStatus
from serve_app.vendors.pnd import mapping
from serve_app.vendors.pnd.payload import STYLE, result_url
from serve_app.webhooks import registration

router = APIRouter(prefix="/api", tags=["PND AI compatible"])


async def pnd_account(
    request: Request, rt: Runtime, rate_class: str | None, query_key: bool = False
) -> Account:
    """The caller, from `x-key` (or `?key=` where PND allows it), rate-limited per class."""
    key = api_key_from(request) or (request.query_params.get("key") if query_key else None)
    if key is None:
        raise MissingKey("Missing x-key header.")
    if not key.startswith(PREFIX):
        raise InvalidKeyFormat(f"Key does not start with {PREFIX}")
    account = await authenticate(request, rt, key)
    if rate_class is not None:
        await apply_rate_limit(request, rt, account, rate_class)
    return account


async def accepted(request: Request, rt: Runtime, account: Account, native: dict):
    job = await jobs.load(rt, native["job_id"])
    body = {
        "ok": True,
        "job_id": native["job_id"],
        "status": "queued",
        "endpoint": mapping.ENDPOINT[job.operation] if job else None,
        "size": job.params.get("size") if job else None,
        "cost": native["cost"],
        "credit_source": await credits.source(rt, native["job_id"]),
        "remaining": native["remaining"],
    }
    return OrjsonResponse(body)


async def finished_now(request: Request, rt: Runtime, account: Account, job: Job):
    first = job.status == JobStatus.DONE and await jobs.first_report(rt, job.job_id)
    return OrjsonResponse(await _status_body(request, rt, account, job, first))


def limits(settings, op) -> tuple[int, int]:
    return mapping.MAX_BYTES, mapping.MAX_EDGE


UPLOAD = submission.SubmitStyle(
    limits=limits,
    formats=mapping.FORMATS,
    map=mapping.native,
    accepted=accepted,
    finished=finished_now,
)


async def _upload(request: Request, endpoint: str):
    rt = get_runtime(request)
    account = await pnd_account(request, rt, "upload")
    op = operations.get(mapping.OPERATION[endpoint])
    return await submission.submit(request, rt, account, op, UPLOAD)


@router.post("/upload/")
async def upload_v1(request: Request):
    """PND AI 1.0: upscale to a size tier (HD, FHD, 2K, 4K), no face restoration."""
    return await _upload(request, "v1")


@router.post("/uploadv2/")
async def upload_v2(request: Request):
    """PND AI PRO: upscale + GFPGAN face restoration."""
    return await _upload(request, "v2")


def _job_id(value: str | None) -> str:
    if not value:
        raise InvalidJobId("job_id is required.")
    return jobs.check_job_id(value)


@router.get("/status/")
async def status(request: Request, job_id: str | None = None) -> OrjsonResponse:
    rt = get_runtime(request)
    account = await pnd_account(request, rt, None)  # poll.lua applies the status limit
    found = await owned_poll(request, rt, account, _job_id(job_id))
    return OrjsonResponse(await _status_body(request, rt, account, found.job, found.first_done))


async def _status_body(request, rt: Runtime, account: Account, job: Job, first: bool) -> dict:
    base = base_url(request, rt)
    body = {
        "ok": True,
        "job_id": job.job_id,
        "status": mapping.STATUS[job.status],
        "endpoint": mapping.ENDPOINT.get(job.operation, "v1"),
        "size": job.params.get("size") or job.size_label,
        "cost": job.cost,
    }
    if job.status == JobStatus.DONE:
        body["deducted_this_call"] = first
        body["result_url"] = result_url(base, job.job_id)
        body["face_urls"] = [result_url(base, job.job_id, i) for i in range(job.faces)]
        body["countfaces"] = job.faces
    if job.status == JobStatus.FAILED:
        body["error"] = job.error_code
        body["detail"] = job.error_detail
    body["remaining"] = (await credits.balance(rt, account.id, account.plan)).total
    return body


@router.get("/result/")
async def result(request: Request, job_id: str | None = None, face: int | None = Query(None, ge=0)):
    rt = get_runtime(request)
    account = await pnd_account(request, rt, "result", query_key=True)
    job = owned(await jobs.load(rt, _job_id(job_id)), account)
    finished(job, "/api/status/")
    if face is None:
        return await file_response(request, rt, job, job.result_key, job.result_format, False)
    return await face_response(request, rt, job, face)


@router.get("/credits/")
async def get_credits(request: Request) -> dict:
    rt = get_runtime(request)
    account = await pnd_account(request, rt, "credits")
    balance = await credits.balance(rt, account.id, account.plan)
    vip = plan_of(rt, account).vip
    return {
        "ok": True,
        "user_type": "vip" if vip else "free",
        "vip_active": vip,
        "vip_expires": None,
        "credits": balance.buckets(),
        "today": {"used": balance.used_today, "limit": balance.free_limit},
    }


@router.post("/rotate/")
async def rotate(request: Request) -> dict:
    rt = get_runtime(request)
    account = await pnd_account(request, rt, "rotate")
    old = api_key_from(request) or ""
    new = await accounts.rotate(rt, account.id, old)
    moment = datetime.fromtimestamp(rt.clock(), UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "ok": True,
        "old_key_prefix": accounts.key_prefix(old),
        "new_key": new,
        "rotated_at": moment,
    }


class PndWebhook(BaseModel):
    url: str
    secret: str | None = None


@router.post("/webhook/")
async def set_webhook(body: PndWebhook, request: Request) -> dict:
    """Deliveries carry `X-PNDAI-Signature: sha256=<hex HMAC-SHA256 of the body>`."""
    rt = get_runtime(request)
    account = await pnd_account(request, rt, "webhook")
    return await registration.register(rt, account.id, body.url.strip(), body.secret, STYLE)


@router.get("/stats/")
async def get_stats(request: Request, days: int = Query(30, ge=1, le=stats.MAX_DAYS)) -> dict:
    rt = get_runtime(request)
    account = await pnd_account(request, rt, "credits")
    native = await stats.account_stats(rt, account.id, days)
    by_operation = native.pop("by_operation")
    endpoint = mapping.ENDPOINT
    native["by_endpoint"] = {endpoint.get(op, op): count for op, count in by_operation.items()}
    native["recent"] = [
        {
            "job_id": j["job_id"],
            "endpoint": endpoint.get(j["operation"], j["operation"]),
            "status": mapping.STATUS.get(j["status"], j["status"]),
            "created_at": j["created_at"],
        }
        for j in native["recent"]
    ]
    return native

"""PND AI's API under /api/ (upload, uploadv2, status, result, credits, rotate, webhook, stats),
so PND's sample clients work with only the base URL and key changed."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from serve_app.api import polling, submission
from serve_app.api.deps import (
    api_key_from,
    apply_rate_limit,
    authenticate,
    get_runtime,
    plan_of,
)
from serve_app.api.inputs import Submission, read_submission
from serve_app.api.responses import OrjsonResponse
from serve_app.api.results import base_url, file_response
from serve_app.billing import accounts, credits, ratelimit
from serve_app.billing import stats as usage
from serve_app.billing.accounts import Account
from serve_app.billing.apikeys import PREFIX
from serve_app.core.errors import (
    InvalidJobId,
    InvalidKeyFormat,
    JobFailed,
    JobNotFound,
    MissingKey,
    NotReady,
    NotYourJob,
)
from serve_app.core.runtime import Runtime
from serve_app.engine import images, jobs
from serve_app.engine.execution import face_key
from serve_app.operations import restore_face, upscale
from serve_app.vendors.pnd import mapping as pnd
from serve_app.webhooks import registration as webhooks

router = APIRouter(prefix="/api", tags=["PND AI compatible"])
CREDIT_SOURCE = {"p:free_today": "free", "p:sub": "sub", "p:extra": "extra"}


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


def _prepare(endpoint: str, steps: dict, job_id: str):
    async def prepare(rt: Runtime, account: Account, sent: Submission) -> submission.Prepared:
        info = images.inspect(sent.image, pnd.MAX_BYTES, pnd.MAX_EDGE)
        edge = rt.settings.max_output_edge
        if endpoint == "v1":
            plan = upscale.plan(sent.params, info, rt.catalog, rt.plans, edge)
            params, operation = {**plan.params(), "adjust": steps}, upscale.OPERATION
        else:
            plan = restore_face.plan(sent.params, info, rt.catalog, rt.plans, edge, steps)
            params, operation = plan.params(), restore_face.OPERATION
        job = submission.new_job(account, operation, plan.cost, params, info, job_id)
        return submission.Prepared(job, plan.size_label)

    return prepare


async def _upload(request: Request, endpoint: str):
    rt = get_runtime(request)
    account = await pnd_account(request, rt, "upload")
    sent = await read_submission(request, rt.settings)
    params, steps, size, lang = pnd.native_params(sent.params)
    operation = upscale.OPERATION if endpoint == "v1" else restore_face.OPERATION
    submission.check_plan(rt, account, operation)
    sent = Submission(sent.image, params)
    body = await submission.accept(rt, account, sent, _prepare(endpoint, steps, pnd.job_id(lang)))
    source = await _credit_source(rt, body["job_id"])
    return {
        "ok": True,
        "job_id": body["job_id"],
        "status": "queued",
        "endpoint": endpoint,
        "size": size,
        "cost": body["cost"],
        "credit_source": source,
        "remaining": body["remaining"],
    }


async def _credit_source(rt: Runtime, job_id: str) -> str:
    parts = await rt.redis.hkeys(rt.keys.hold(job_id))
    for prefix, name in CREDIT_SOURCE.items():
        if any(part.startswith(prefix) for part in parts):
            return name
    return "extra"


@router.post("/upload/")
async def upload_v1(request: Request) -> dict:
    """PND AI 1.0: upscale to a size tier (HD, FHD, 2K, 4K), no face restoration."""
    return await _upload(request, "v1")


@router.post("/uploadv2/")
async def upload_v2(request: Request) -> dict:
    """PND AI PRO: upscale + GFPGAN face restoration."""
    return await _upload(request, "v2")


def _job_id(value: str | None) -> str:
    if not value:
        raise InvalidJobId("job_id is required.")
    return jobs.check_job_id(value)


def _result_url(request: Request, rt: Runtime, job_id: str, face: int | None = None) -> str:
    url = f"{base_url(request, rt).rstrip('/')}/api/result/?job_id={job_id}"
    return url if face is None else f"{url}&face={face}"


@router.get("/status/")
async def status(request: Request, job_id: str | None = None) -> OrjsonResponse:
    rt = get_runtime(request)
    account = await pnd_account(request, rt, None)  # poll.lua applies the status limit
    plan = plan_of(rt, account)
    limit = plan.limit(polling.RATE_CLASS) or 10**9
    found = await polling.poll(rt, account, limit, plan.name, _job_id(job_id))
    request.state.rate_headers = found.rate.headers()
    if not found.rate.allowed:
        raise ratelimit.exceeded(found.rate)
    job = found.job
    if job is None:
        raise JobNotFound()
    if job.get("account") != account.id:
        raise NotYourJob()
    return OrjsonResponse(await _status_body(request, rt, account, job, found.first_done))


async def _status_body(request, rt, account: Account, job: dict, first_done: bool) -> dict:
    params = orjson.loads(job.get("params") or "{}")
    body = {
        "ok": True,
        "job_id": job["job_id"],
        "status": pnd.STATUS[job["status"]],
        "endpoint": pnd.ENDPOINT.get(job["operation"], "v1"),
        "size": params.get("size") or job.get("size_label"),
        "cost": int(job["cost"]),
    }
    if job["status"] == "done":
        faces = int(job.get("faces") or 0)
        body["deducted_this_call"] = first_done
        body["result_url"] = _result_url(request, rt, job["job_id"])
        body["face_urls"] = [_result_url(request, rt, job["job_id"], i) for i in range(faces)]
        body["countfaces"] = faces
    if job["status"] == "failed":
        body["error"] = job.get("error_code")
        body["detail"] = job.get("error_detail")
    body["remaining"] = (await credits.balance(rt, account.id, account.plan)).total
    return body


@router.get("/result/")
async def result(request: Request, job_id: str | None = None, face: int | None = Query(None, ge=0)):
    rt = get_runtime(request)
    account = await pnd_account(request, rt, "result", query_key=True)
    job = await jobs.load(rt, _job_id(job_id))
    if job is None:
        raise JobNotFound()
    if job.get("account") != account.id:
        raise NotYourJob()
    if job["status"] == "failed":
        raise JobFailed(f"The job failed ({job.get('error_code')}); there is no result.")
    if job["status"] != "done":
        raise NotReady(f"The job is {job['status']}; poll /api/status/ until done.")
    if face is None:
        key = job["result_key"]
        return await file_response(request, rt, job, key, key.rsplit(".", 1)[-1], attach=False)
    if face >= int(job.get("faces") or 0):
        raise JobNotFound(f"This job has {int(job.get('faces') or 0)} faces; no face {face}.")
    return await file_response(request, rt, job, face_key(job["job_id"], face), "png", False)


@router.get("/credits/")
async def get_credits(request: Request) -> dict:
    rt = get_runtime(request)
    account = await pnd_account(request, rt, "credits")
    balance = await credits.balance(rt, account.id, account.plan)
    vip = account.plan in ("api-monthly", "api-yearly", "enterprise")
    return {
        "ok": True,
        "user_type": "vip" if vip else "free",
        "vip_active": vip,
        "vip_expires": None,
        "credits": {
            "sub": balance.sub,
            "extra": balance.extra,
            "free_today": balance.free_today,
            "total": balance.total,
        },
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
    return await webhooks.register(rt, account.id, body.url.strip(), body.secret, style="pnd")


@router.get("/stats/")
async def get_stats(request: Request, days: int = Query(30, ge=1, le=usage.MAX_DAYS)) -> dict:
    rt = get_runtime(request)
    account = await pnd_account(request, rt, "credits")
    native = await usage.account_stats(rt, account.id, days)
    by_operation = native.pop("by_operation")
    native["by_endpoint"] = {pnd.ENDPOINT.get(op, op): count for op, count in by_operation.items()}
    native["recent"] = [
        {
            "job_id": j["job_id"],
            "endpoint": pnd.ENDPOINT.get(j["operation"], j["operation"]),
            "status": pnd.STATUS.get(j["status"], j["status"]),
            "created_at": j["created_at"],
        }
        for j in native["recent"]
    ]
    return native

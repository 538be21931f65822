"""ProductAI's routes under /v1/api/ on the shared submit path (its model prices, integer job
ids and bodies as a `SubmitStyle`): generate, upscale, generate-custom-model, job/{id},
key-check. Who a request acts for: the account of its `x-api-key`, within ProductAI's 15 job
requests per minute per IP and the account's own plan limits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from serve_app import operations
from serve_app.api import submission
from serve_app.api.deps import api_key_from as key_of
from serve_app.api.deps import apply_rate_limit, authenticate, client_ip, get_runtime
from serve_app.api.inputs import Submission, image_at, json_object
from serve_app.api.responses import OrjsonResponse
from serve_app.api.results import base_url
from serve_app.api.routes.status import owned_poll
from serve_app.api.views import download_url, url_expiry
from serve_app.billing import credits, ratelimit
from serve_app.billing.accounts import Account
from serve_app.core.errors import CustomModelNotFound, InvalidModel, JobNotFound
from serve_app.core.runtime import Runtime
from serve_app.engine import jobs, loras
from serve_app.engine.jobs import Job, JobStatus
from serve_app.vendors.productai import mapping

router = APIRouter(prefix="/v1/api", tags=["ProductAI compatible"])
PER_IP, WINDOW_S = 15, 60  # "15 requests per minute per IP address"
URL_TTL_S = 24 * 3600


async def productai_account(request: Request, rt: Runtime, rate_class: str | None) -> Account:
    """Its per-IP limit counts the requests that start jobs: its own advice, polling every 3-5
    s, would pass 15 a minute on polls alone (polls count against the plan's status limit)."""
    if rate_class == "upload":
        subject = f"ip:{client_ip(request)}"
        state = await ratelimit.hit(rt, subject, "productai", PER_IP, "ip", WINDOW_S)
        if not state.allowed:
            raise ratelimit.exceeded(state)
    account = await authenticate(request, rt, key_of(request))
    if rate_class is not None:
        await apply_rate_limit(request, rt, account, rate_class)
    return account


async def job_body(request: Request, rt: Runtime, job: Job) -> dict[str, Any]:
    data = {"id": int(job.job_id), "status": mapping.STATUS[job.status]}
    if job.params.get("prompt"):
        data["prompt"] = job.params["prompt"]
    if job.status == JobStatus.DONE:
        expires = url_expiry(job, rt.settings, rt.clock(), URL_TTL_S)
        base = base_url(request, rt)
        data["image_url"] = download_url(job, "download", base, rt.settings.url_secret, expires)
    return {"status": "OK", "data": data}


async def accepted(request: Request, rt: Runtime, account: Account, native: dict) -> Response:
    return await finished(request, rt, account, await jobs.load(rt, native["job_id"]))


async def finished(request: Request, rt: Runtime, account: Account, job: Job) -> Response:
    return OrjsonResponse(await job_body(request, rt, job))


def style(job_id: str, cost: int | None) -> submission.SubmitStyle:
    """Its limits and formats, its price (None: the native one), and the job id it was given
    (an integer)."""
    return submission.SubmitStyle(
        limits=lambda settings, op: (mapping.MAX_BYTES, op.max_edge(settings)),
        formats=mapping.FORMATS,
        map=lambda params: submission.Mapped(params, job_id=job_id),
        price=None if cost is None else (lambda info, plan: cost),
        accepted=accepted,
        finished=finished,
    )


async def next_id(rt: Runtime) -> str:
    """ProductAI's ids are integers: a counter, never a clash with ours (`job_…`)."""
    return str(await rt.redis.incr(rt.keys.sequence("productai")))


async def _photos(body: dict, rt: Runtime, required: bool) -> list[bytes]:
    urls = mapping.image_urls(body.get("image_url"), required)
    return [await image_at(url, rt.settings) for url in urls]


async def _submit(request, rt, account, name: str, sent: Submission, cost: int) -> Response:
    op, job_id = operations.get(name), await next_id(rt)
    return await submission.submit_read(
        request, rt, account, op, sent, style(job_id, cost), wait_s=0.0
    )


@router.post("/generate")
async def generate(request: Request) -> Response:
    """A photo edited, two composed, or (no `image_url`) one made from the prompt, on one of
    ProductAI's model names."""
    rt = get_runtime(request)
    account = await productai_account(request, rt, "upload")
    body = json_object(await request.body())
    chosen = mapping.model(rt.plans, body.get("model"))
    photos = await _photos(body, rt, required=False)
    first, second = [*photos, None, None][:2]
    sent = Submission(first, mapping.params(body, chosen), None, second)
    name = "edit" if first is not None else "generate"
    return await _submit(request, rt, account, name, sent, chosen.cost)


@router.post("/generate-custom-model")
async def generate_custom_model(request: Request) -> Response:
    """`model`: a custom model of this account (or a published one), uploaded natively with
    POST /v1/custom-models; its base model's price."""
    rt = get_runtime(request)
    account = await productai_account(request, rt, "upload")
    body = json_object(await request.body())
    name = body.get("model")
    try:
        found = await loras.find(rt, account.id, str(name))
    except CustomModelNotFound as exc:
        raise InvalidModel(f"No custom model {name!r} on this account.") from exc
    (photo,) = await _photos({"image_url": _one(body.get("image_url"))}, rt, required=True)
    params = {"prompt": body.get("prompt"), "model": loras.PREFIX + found.name}
    sent = Submission(photo, {k: v for k, v in params.items() if v is not None})
    op, job_id = operations.get("edit"), await next_id(rt)
    return await submission.submit_read(
        request, rt, account, op, sent, style(job_id, cost=None), wait_s=0.0
    )


@router.post("/upscale")
async def upscale(request: Request) -> Response:
    """Its precision upscale: our quality path, Real-ESRGAN x4plus at x2 (20 tokens)."""
    rt = get_runtime(request)
    account = await productai_account(request, rt, "upload")
    body = json_object(await request.body())
    (photo,) = await _photos({"image_url": _one(body.get("image_url"))}, rt, required=True)
    params = {"model": "quality", "scale": 2, "output_format": body.get("output_format")}
    params = {k: v for k, v in params.items() if v is not None}
    cost = mapping.upscale_cost(rt.plans)
    return await _submit(request, rt, account, "upscale", Submission(photo, params), cost)


def _one(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


@router.get("/job/{job_id}")
async def job(request: Request, job_id: str) -> OrjsonResponse:
    rt = get_runtime(request)
    account = await productai_account(request, rt, None)  # poll.lua applies the status limit
    if not job_id.isdigit():
        raise JobNotFound(f"No job {job_id[:40]!r}.")
    found = await owned_poll(request, rt, account, job_id)
    return OrjsonResponse(await job_body(request, rt, found.job))


@router.get("/key-check")
async def key_check(request: Request) -> OrjsonResponse:
    rt = get_runtime(request)
    account = await productai_account(request, rt, "credits")
    balance = await credits.balance(rt, account.id, account.plan)
    data = {"valid": True, "tokens_remaining": balance.total, "plan": account.plan}
    return OrjsonResponse({"status": "OK", "data": data})

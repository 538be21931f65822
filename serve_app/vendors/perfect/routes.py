"""Perfect Corp's routes under /s2s/v1.0/: client/auth and client/credit, file/{task} and
the signed uploads, task/{task} to run and to poll; and who a request acts for: the account
behind its Bearer access token, within Perfect's rate limits (100 requests per 5 minutes per
IP, 100 per minute per access token; 429 with Retry-After)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from serve_app import operations
from serve_app.api import submission
from serve_app.api.deps import client_ip, get_runtime
from serve_app.api.inputs import Submission, json_object
from serve_app.api.responses import OrjsonResponse
from serve_app.api.results import base_url, polling_interval
from serve_app.api.routes import style_catalogs
from serve_app.api.routes.status import owned_poll
from serve_app.api.views import download_url, url_expiry
from serve_app.billing import accounts, clients, credits, ratelimit
from serve_app.billing.accounts import Account, AccountMissing
from serve_app.billing.apikeys import hash_key
from serve_app.core.errors import (
    ImageTooLarge,
    InvalidAccessToken,
    InvalidParameter,
    InvalidUploadUrl,
    NoMask,
    NotFound,
)
from serve_app.core.runtime import Runtime
from serve_app.core.settings import LONG, RETENTION
from serve_app.engine import jobs
from serve_app.engine.jobs import JobStatus
from serve_app.vendors.perfect import files, tasks

router = APIRouter(prefix="/s2s/v1.0", tags=["Perfect Corp compatible"])
PER_IP, PER_IP_WINDOW_S = 100, 300
PER_TOKEN, PER_TOKEN_WINDOW_S = 100, 60
DOWNLOAD_TTL_S = 2 * 3600  # "URL to download this result. Valid for 2 hours"


async def _limit(rt: Runtime, subject: str, limit: int, window_s: int) -> None:
    state = await ratelimit.hit(rt, subject, "perfect", limit, "perfect", window_s)
    if not state.allowed:
        raise ratelimit.exceeded(state)


async def perfect_account(request: Request, rt: Runtime) -> Account:
    """The account behind `Authorization: Bearer <access token>`, rate-limited per IP and
    per token."""
    await _limit(rt, f"ip:{client_ip(request)}", PER_IP, PER_IP_WINDOW_S)
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    account_id = await clients.account_for(rt, token) if token else None
    if account_id is None:
        raise InvalidAccessToken("Send `Authorization: Bearer <access_token>` from client/auth.")
    await _limit(
        rt, f"token:{hash_key(rt.settings.key_secret, token)[:24]}", PER_TOKEN, PER_TOKEN_WINDOW_S
    )
    try:
        record = await accounts.get(rt, account_id)
    except AccountMissing as exc:
        raise InvalidAccessToken("The account behind this token is gone.") from exc
    if record.get("locked") == "1":
        raise InvalidAccessToken("The account behind this token is locked.")
    return Account(account_id, record.get("plan", ""), False)


class AuthBody(BaseModel):
    client_id: str
    id_token: str


@router.post("/client/auth")
async def client_auth(body: AuthBody, request: Request) -> dict:
    """An access token (valid 2 hours) for an id_token: `client_id=<id>&timestamp=<ms>`
    encrypted (RSA, PKCS#1 v1.5) with the client_secret, base64."""
    rt = get_runtime(request)
    await _limit(rt, f"ip:{client_ip(request)}", PER_IP, PER_IP_WINDOW_S)
    token = await clients.exchange(rt, body.client_id, body.id_token)
    return {"status": 200, "result": {"access_token": token}}


@router.get("/client/credit")
async def client_credit(request: Request) -> dict:
    """The balance as Perfect lists it: one entry per credit bucket, `amount` each."""
    rt = get_runtime(request)
    account = await perfect_account(request, rt)
    balance = await credits.balance(rt, account.id, account.plan)
    buckets = {k: v for k, v in balance.buckets().items() if k != "total"}
    return {"status": 200, "results": [{"type": k, "amount": v} for k, v in buckets.items()]}


# --- files ------------------------------------------------------------------------------------


def _task(name: str) -> tasks.Task:
    found = tasks.TASKS.get(name)
    if found is None:
        raise NotFound(f"No task {name!r}; these are served: {', '.join(sorted(tasks.TASKS))}.")
    return found


class FileRequest(BaseModel):
    content_type: str
    file_name: str


class FilesBody(BaseModel):
    files: list[FileRequest] = Field(min_length=1, max_length=2)


async def _declared(request: Request, rt: Runtime, account: Account, task: str, wanted) -> dict:
    if wanted.content_type not in files.CONTENT_TYPES:
        raise InvalidParameter(f"content_type must be one of {', '.join(files.CONTENT_TYPES)}.")
    file_id = await files.declare(rt, account.id, task, wanted.content_type)
    upload = f"/s2s/v1.0/upload/{file_id}?{files.upload_query(rt, file_id)}"
    url = base_url(request, rt).rstrip("/") + upload
    put = {"url": url, "method": "PUT", "headers": {"Content-Type": wanted.content_type}}
    return {**wanted.model_dump(), "file_id": file_id, "requests": [put]}


@router.post("/file/{task}")
async def create_files(task: str, body: FilesBody, request: Request) -> dict:
    """A file_id and a signed upload URL (PUT, valid an hour) for each file to come."""
    rt = get_runtime(request)
    account = await perfect_account(request, rt)
    _task(task)
    declared = [await _declared(request, rt, account, task, wanted) for wanted in body.files]
    return {"status": 200, "result": {"files": declared}}


@router.put("/upload/{file_id}")
async def upload_file(file_id: str, request: Request) -> Response:
    """The signed upload URL: the body is the file, checked like any input."""
    rt = get_runtime(request)
    query = request.query_params
    if not files.signed(rt, file_id, query.get("exp"), query.get("sig")):
        raise InvalidUploadUrl("This upload URL is wrong or has expired; ask file/{task} again.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > files.MAX_BYTES:
        raise ImageTooLarge(f"The file is larger than {files.MAX_BYTES} bytes.")
    await files.receive(rt, file_id, await request.body())
    return Response(status_code=200)


# --- style catalogs (configs/styles/<task>.yaml) ---------------------------------------------


def _page(items: list, page_size: int, starting_token: str | None) -> tuple[list, str | None]:
    """Perfect's paging: up to `page_size` (1-20) from the item whose id is the token."""
    if not 1 <= page_size <= 20:
        raise InvalidParameter("page_size must be between 1 and 20.")
    start = 0
    if starting_token:
        ids = [str(item.id) for item in items]
        if starting_token not in ids:
            raise InvalidParameter(
                f"starting_token {starting_token[:30]!r} is not a page of this list."
            )
        start = ids.index(starting_token)
    page = items[start : start + page_size]
    rest = items[start + page_size :]
    return page, (str(rest[0].id) if rest else None)


def _titled(item, **more) -> dict:
    # its docs give each entry an id and, in an object, a title: both places are filled
    return {"id": item.id, "title": item.title, **more, "info": {"title": item.title, **more}}


@router.get("/task/style-group/{task}")
async def style_groups(
    task: str, request: Request, page_size: int = 20, starting_token: str | None = None
) -> dict:
    rt = get_runtime(request)
    await perfect_account(request, rt)
    groups = list(rt.styles.groups(tasks.ALIASES.get(task, task)))
    if not groups:
        raise NotFound(f"{task} has no style catalog.")
    page, token = _page(groups, page_size, starting_token)
    return {"status": 200, "result": {"next_token": token, "groups": [_titled(g) for g in page]}}


@router.get("/task/style/{task}")
async def styles(
    task: str,
    request: Request,
    style_group_id: int = 0,
    page_size: int = 20,
    starting_token: str | None = None,
) -> dict:
    rt = get_runtime(request)
    await perfect_account(request, rt)
    task = tasks.ALIASES.get(task, task)
    group = next((g for g in rt.styles.groups(task) if g.id == style_group_id), None)
    if group is None:
        raise InvalidParameter(f"No style group {style_group_id} of {task}.")
    page, token = _page(list(group.styles), page_size, starting_token)
    base = base_url(request, rt)
    listed = [_titled(s, thumb=style_catalogs.thumb_url(base, task, s)) for s in page]
    return {"status": 200, "result": {"next_token": token, "styles": listed}}


# --- tasks ------------------------------------------------------------------------------------


async def _bytes(rt: Runtime, account: Account, file_id: str, what: str) -> bytes:
    task = files.task_of(file_id)
    if task is not None:  # an earlier task's result: as native from_job
        return await submission.result_of(rt, account, task, what)
    found = await files.find(rt, account.id, file_id)
    if found.state != "ready":
        detail = f": {found.detail}" if found.detail else " (upload it to its URL first)"
        raise InvalidParameter(f"{what} {file_id} is not an uploaded image{detail}.")
    return await rt.blobs.get(found.blob)


async def accepted(request: Request, rt: Runtime, account: Account, native: dict) -> Response:
    return OrjsonResponse({"status": 200, "result": {"task_id": native["job_id"]}})


STYLE = submission.SubmitStyle(
    limits=lambda settings, op: (files.MAX_BYTES, files.MAX_EDGE),
    formats=files.FORMATS,
    # Perfect keeps results 30 days (PHOTOSERVE_LONG_RESULT_TTL): the job and its result too
    map=lambda params: submission.Mapped(
        {k: v for k, v in params.items() if k != tasks.ACTION},
        {tasks.ACTION: params[tasks.ACTION], RETENTION: LONG},
    ),
    accepted=accepted,
)


def _style(rt: Runtime, task: str, params: dict[str, Any]):
    """The catalog style an action names: `style_group_id` and one of `style_ids`."""
    group, ids = params.get("style_group_id"), params.get("style_ids")
    if not isinstance(ids, list) or len(ids) != 1:
        raise InvalidParameter("params.style_ids must hold one style id.")
    style = rt.styles.find(task, _int(group), _int(ids[0]))
    if style is None:
        raise InvalidParameter(f"No style {ids[0]!r} in group {group!r} of {task}.")
    return style


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


async def _inputs(rt, account, task: str, spec: tasks.Task, body: tasks.TaskBody):
    """The photo, (the mask, the reference photo) a task runs on, and the key of its files
    (nothing for a task that takes no file)."""
    sets = body.payload.file_sets
    if not spec.takes_file:
        return None, (None, None), ""
    if sets is None:
        raise InvalidParameter(f"{task} needs payload.file_sets.src_ids.")
    if spec.takes_mask and not sets.mask_ids:
        raise NoMask(f"{task} needs mask_ids: a grayscale mask, white = remove.")
    if spec.takes_reference and not sets.ref_ids:
        raise InvalidParameter(f"{task} needs ref_ids: the face whose makeup to copy.")
    image = await _bytes(rt, account, sets.src_ids[0], "src_ids")
    mask = await _bytes(rt, account, sets.mask_ids[0], "mask_ids") if spec.takes_mask else None
    ref = await _bytes(rt, account, sets.ref_ids[0], "ref_ids") if spec.takes_reference else None
    return image, (mask, ref), f"{sets.src_ids[0]}:{','.join(sets.mask_ids + sets.ref_ids)}"


@router.post("/task/{task}")
async def run_task(task: str, request: Request) -> Response:
    """Run a task on uploaded files (or earlier results: dst_id). The same file with the
    same request_id is the same task: answered again, never run or charged twice."""
    rt = get_runtime(request)
    account = await perfect_account(request, rt)
    spec = _task(task)
    body = tasks.TaskBody.read(json_object(await request.body()))
    image, (mask, reference), files_key = await _inputs(rt, account, task, spec, body)
    name, params = spec.native(body.action.params)
    if spec.styled:
        style = _style(rt, task, body.action.params)
        params["prompt"] = style.prompt_for(params.get("prompt", ""))
        files_key = f"{style.id}:{hash_key(rt.settings.key_secret, params['prompt'])[:16]}"
    params[tasks.ACTION] = body.action.id
    key = f"perfect:{task}:{files_key}:{body.request_id}"
    op = operations.get(name)
    sent = Submission(image, params, mask, reference)
    return await submission.submit_read(request, rt, account, op, sent, STYLE, 0.0, key)


@router.get("/task/{task}")
async def task_status(task: str, request: Request, task_id: str = "") -> dict:
    """running (with polling_interval in ms, from the queue), success (dst_id and a download
    URL valid 2 hours per result) or error (Perfect's code)."""
    rt = get_runtime(request)
    account = await perfect_account(request, rt)
    _task(task)
    found = await owned_poll(request, rt, account, jobs.check_job_id(task_id or "-"))
    job = found.job
    seconds = polling_interval(job, found.depth, found.per_job_s, rt.settings.dispatch_concurrency)
    result: dict[str, Any] = {"polling_interval": seconds * 1000, "status": "running"}
    if job.status == JobStatus.DONE:
        expires = url_expiry(job, rt.settings, rt.clock(), DOWNLOAD_TTL_S)
        url = download_url(job, "download", base_url(request, rt), rt.settings.url_secret, expires)
        data = [{"dst_id": files.result_id(job.job_id), "url": url}]
        result.update(
            status="success", results=[{"id": job.params.get(tasks.ACTION, 0), "data": data}]
        )
    elif job.status == JobStatus.FAILED:
        result.update(status="error", error=tasks.perfect_code(job.error_code))
    return {"status": 200, "result": result}

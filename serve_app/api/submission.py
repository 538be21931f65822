"""The one submit path, for every operation on every surface: plan check, Idempotency-Key,
the operation's own validation and planning, the atomic submit, and sync mode (`?wait=N`:
the finished job's body, or its image with `Accept: image/*`).

A vendor surface shapes it with a `SubmitStyle` (its input limits, how its fields map onto
the operation's parameters, its job id form and its response bodies); the native API is the
default style.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.responses import Response

from serve_app.api import waiting
from serve_app.api.inputs import FROM_JOB, Submission, read_submission
from serve_app.api.responses import OrjsonResponse
from serve_app.api.results import file_response, job_response
from serve_app.billing import credits, idempotency
from serve_app.billing.accounts import Account
from serve_app.core.errors import (
    InvalidParameter,
    JobFailed,
    JobNotFinished,
    JobNotFound,
    NotYourJob,
    OperationNotAllowed,
)
from serve_app.core.keyspace import Blobs
from serve_app.core.runtime import Runtime
from serve_app.core.settings import Settings
from serve_app.core.storage import BlobNotFound
from serve_app.engine import images, jobs
from serve_app.engine.jobs import Job, JobStatus, NewJob
from serve_app.operations import Operation, Plan


@dataclass(frozen=True)
class Mapped:
    """A vendor's request in the operation's terms."""

    params: dict[str, Any]  # read by the operation's parameter model
    job_params: dict[str, Any] = field(default_factory=dict)  # added to the planned job's
    job_id: str = ""  # the vendor's id form ("" = ours)


Accepted = Callable[[Request, Runtime, Account, dict], Awaitable[Response]]
Priced = Callable[[images.ImageInfo, Plan], int]
Finished = Callable[[Request, Runtime, Account, Job], Awaitable[Response]]


async def native_accepted(request: Request, rt: Runtime, account: Account, body: dict):
    return OrjsonResponse(body, status_code=202)


async def native_finished(request: Request, rt: Runtime, account: Account, job: Job):
    return await job_response(rt, job, request)


@dataclass(frozen=True)
class SubmitStyle:
    """How a surface shapes the shared submit; every part defaults to the native API's."""

    limits: Callable[[Settings, Operation], tuple[int, int]] | None = None  # (bytes, edge)
    formats: tuple[str, ...] | None = None  # the input formats it documents (None: all)
    map: Callable[[dict[str, Any]], Mapped] = lambda params: Mapped(params)
    price: Priced | None = None  # its own price list instead of plans.yaml's
    accepted: Accepted = native_accepted  # the body once the job is queued
    finished: Finished = native_finished  # the body of a job finished within `?wait`


NATIVE = SubmitStyle()


def check_plan(rt: Runtime, account: Account, operation: str) -> None:
    if rt.plans.exists(account.plan) and not rt.plans.get(account.plan).allows(operation):
        raise OperationNotAllowed(f"The {account.plan} plan does not include {operation}.")


async def submit(
    request: Request, rt: Runtime, account: Account, op: Operation, style: SubmitStyle = NATIVE
) -> Response:
    check_plan(rt, account, op.name)  # before reading a body that would be refused anyway
    wait_s = waiting.parse_wait(
        request.query_params.get("wait"), rt.settings.max_wait_s, op.default_wait_s
    )
    sent = await read_submission(request, rt.settings, op.takes_image)
    return await submit_read(request, rt, account, op, sent, style, wait_s)


async def submit_read(
    request: Request,
    rt: Runtime,
    account: Account,
    op: Operation,
    sent: Submission,
    style: SubmitStyle,
    wait_s: float,
    idempotency_key: str | None = None,
) -> Response:
    """The rest of the submit once the request is read (a surface that reads its own fields
    comes in here): Idempotency-Key (or the surface's own key, e.g. Perfect's request_id),
    accept, and up to `wait_s` for the finished job."""
    check_plan(rt, account, op.name)
    check_inputs(op, sent)
    if sent.image is None and op.takes_image:
        sent = await earlier_result(rt, account, sent)
    files = (sent.image or b"") + (sent.mask or b"") + (sent.reference or b"")
    fingerprint = idempotency.fingerprint(request.url.path, sent.params, files)
    key = idempotency_key or request.headers.get("idempotency-key")
    claim = await idempotency.claim(rt, account.id, key, fingerprint)
    if claim is not None and claim.replay is not None:
        body, replayed = claim.replay, True
    else:
        try:
            body = await accept(rt, account, op, sent, style, claim)
        except BaseException:
            await idempotency.abandon(rt, claim)
            raise
        replayed = False
    if wait_s > 0:
        finished = await waiting.until_finished(rt, body["job_id"], wait_s)
        if finished is not None:
            return await _finished(request, rt, account, finished, style)
    response = await style.accepted(request, rt, account, body)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def check_inputs(op: Operation, sent: Submission) -> None:
    """Photos an operation does not take are refused, not silently dropped."""
    if not op.takes_image and (sent.image is not None or sent.params.get(FROM_JOB)):
        raise InvalidParameter(f"{op.name} takes no input photo; send its parameters only.")
    if sent.reference is not None and not op.takes_reference:
        raise InvalidParameter(f"{op.name} takes no reference_image.")


async def earlier_result(rt: Runtime, account: Account, sent: Submission) -> Submission:
    """`from_job`: the result of a finished job of the same account is this job's input (erase
    then upscale is two calls and one upload)."""
    params = {k: v for k, v in sent.params.items() if k != FROM_JOB}
    data = await result_of(rt, account, str(sent.params[FROM_JOB]), "from_job")
    return Submission(data, params, sent.mask, sent.reference)


async def result_of(rt: Runtime, account: Account, job_id: str, what: str) -> bytes:
    """The result of a finished job of this account, as the next job's input (`what` names
    where the id came from, for the errors)."""
    job = await jobs.load(rt, jobs.check_job_id(job_id))
    if job is None:
        raise JobNotFound(f"{what} names no job of yours (or it has expired).")
    if job.account != account.id:
        raise NotYourJob(f"{what} belongs to another account.")
    if job.status == JobStatus.FAILED:
        raise JobFailed(f"{what} failed; it has no result to start from.")
    if job.status != JobStatus.DONE:
        raise JobNotFinished(f"{what} is {job.status}; send it again once it is done.")
    try:
        return await rt.blobs.get(job.result_key)
    except BlobNotFound as exc:
        raise JobNotFound(f"The result of {what} has expired.") from exc


def _limits(rt: Runtime, op: Operation, style: SubmitStyle) -> tuple[int, int]:
    if style.limits is not None:
        return style.limits(rt.settings, op)
    return rt.settings.max_image_bytes, op.max_edge(rt.settings)


NO_IMAGE = images.ImageInfo("", 0, 0)  # what a planner sees of an operation without a photo


def _reference(sent: Submission, limits: tuple[int, int], style: SubmitStyle):
    """The second photo's header, checked like the first's."""
    if sent.reference is None:
        return None
    return images.inspect(sent.reference, *limits, style.formats)


async def plan(
    rt: Runtime,
    op: Operation,
    info: images.ImageInfo,
    mask: bytes | None,
    params: dict,
    reference: images.ImageInfo | None = None,
) -> Plan:
    """The operation's checks after the image header (operations/_operation.py)."""
    args = (params, info, mask, rt.catalog, rt.plans, rt.settings, reference)
    if mask is None:
        return op.check(*args)
    return await asyncio.to_thread(op.check, *args)  # decoding the mask takes a few ms


async def accept(
    rt: Runtime, account: Account, op: Operation, sent: Submission, style=NATIVE, claim=None
) -> dict:
    """Check and plan, store the input, then reserve and enqueue in one script; the native
    202 body."""
    mapped = style.map(sent.params)
    resolved, private = mapped.params, {}
    if op.resolve is not None:
        resolved, private = await op.resolve(rt, account.id, mapped.params)
    limits = _limits(rt, op, style)
    info = images.inspect(sent.image, *limits, style.formats) if op.takes_image else NO_IMAGE
    reference = _reference(sent, limits, style)
    planned = await plan(rt, op, info, sent.mask, resolved, reference)
    if style.price is not None:
        planned = repriced(planned, style.price(info, planned))
    job_id = mapped.job_id or jobs.new_job_id()
    params = {**planned.params, **mapped.job_params, **private}
    if planned.mask is not None:
        params["mask_key"] = Blobs.mask(job_id)
    if reference is not None:
        params["reference_key"] = Blobs.reference(job_id, reference.format)
    input_key = Blobs.input(job_id, info.format) if op.takes_image else ""
    job = NewJob(account.id, op.name, planned.cost, params, input_key, *info.size, job_id)
    stored = {
        input_key or None: sent.image,
        params.get("mask_key"): planned.mask,
        params.get("reference_key"): sent.reference,
    }
    for key, data in stored.items():
        if key is not None:
            await rt.blobs.put(key, data)
    body = {"ok": True, "job_id": job_id, "status": "queued", "cost": job.cost}
    try:
        remaining = await jobs.submit(
            rt,
            job,
            credits.quota(rt, account.plan),
            planned.size_label,
            claim.record(body) if claim else None,
            credits.in_flight_cap(rt, account.plan),
        )
    except BaseException:
        for key in stored:
            if key is not None:
                await rt.blobs.delete(key)
        raise
    return {**body, "remaining": remaining}


def repriced(planned: Plan, cost: int) -> Plan:
    params = {**planned.params, "cost": cost} if "cost" in planned.params else planned.params
    return dataclasses.replace(planned, params=params, cost=cost)


async def _finished(request, rt: Runtime, account: Account, job: Job, style) -> Response:
    wants_image = request.headers.get("accept", "").startswith("image/")
    if wants_image and job.status == JobStatus.DONE:
        return await file_response(request, rt, job, job.result_key, job.result_format, False)
    return await style.finished(request, rt, account, job)

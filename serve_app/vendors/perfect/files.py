"""Perfect Corp's file store: a file is declared (`file/{task}`), uploaded with a PUT to a
signed, expiring URL on this server (checked like any input), then named by its file_id in
a task. A task's result is a file too (`dst_id`: the job's result, read as native `from_job`
reads it), usable as the next task's input with no upload. Everything belongs to one
account; uploads are kept a day, with the other inputs, results 30 days
(PHOTOSERVE_LONG_RESULT_TTL)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from serve_app.api import signing
from serve_app.core.errors import ImageTooLarge, JobNotFound, NotYourJob
from serve_app.core.keyspace import Blobs
from serve_app.core.runtime import Runtime
from serve_app.engine import images

UPLOAD_TTL_S = 24 * 3600
URL_TTL_S = 3600  # an upload URL is good for an hour
MAX_BYTES = 10 * 1024 * 1024  # "< 10MB"
MAX_EDGE = 4096
FORMATS = ("jpg", "png")
CONTENT_TYPES = ("image/jpg", "image/jpeg", "image/png")
RESULT_PREFIX = "dst_"


@dataclass(frozen=True)
class File:
    file_id: str
    account: str
    blob: str  # where its bytes are ("" until uploaded)
    state: str  # "declared", "ready" or "refused"
    detail: str = ""


def _key(rt: Runtime, file_id: str) -> str:
    return f"{rt.keys.prefix}pfile:{file_id}"


def blob_key(file_id: str) -> str:
    """Among the inputs: the retention sweep deletes it with them (PHOTOSERVE_INPUT_TTL_S,
    a day)."""
    return f"{Blobs.INPUTS}/perfect-{file_id}"


async def declare(rt: Runtime, account_id: str, task: str, content_type: str) -> str:
    file_id = "pf_" + secrets.token_urlsafe(24)
    fields = {
        "account": account_id,
        "task": task,
        "content_type": content_type,
        "state": "declared",
    }
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.hset(_key(rt, file_id), mapping=fields)
        pipe.expire(_key(rt, file_id), UPLOAD_TTL_S)
        await pipe.execute()
    return file_id


# signed as result URLs are (api/signing.py), under a name no job id can take
def _signed_name(file_id: str) -> str:
    return f"upload:{file_id}"


def upload_query(rt: Runtime, file_id: str) -> str:
    expires = int(rt.clock()) + URL_TTL_S
    return signing.signed_query(rt.settings.url_secret, _signed_name(file_id), expires)


def signed(rt: Runtime, file_id: str, expires: str | None, sig: str | None) -> bool:
    return signing.valid(rt.settings.url_secret, _signed_name(file_id), expires, sig, rt.clock())


async def receive(rt: Runtime, file_id: str, data: bytes) -> File:
    """An upload: kept when it is an image this task can take, refused (and remembered as
    refused, so a task naming it says why) otherwise."""
    record = await rt.redis.hgetall(_key(rt, file_id))
    if not record:
        raise JobNotFound("No such file_id (or it has expired).")
    try:
        if len(data) > MAX_BYTES:
            raise ImageTooLarge(f"The file is {len(data)} bytes; the limit is {MAX_BYTES}.")
        images.inspect(data, MAX_BYTES, MAX_EDGE, FORMATS)
    except Exception as exc:
        await rt.redis.hset(_key(rt, file_id), mapping={"state": "refused", "detail": str(exc)})
        raise
    await rt.blobs.put(blob_key(file_id), data)
    await rt.redis.hset(_key(rt, file_id), mapping={"state": "ready", "detail": ""})
    return File(file_id, record["account"], blob_key(file_id), "ready")


def task_of(file_id: str) -> str | None:
    """The task whose result a `dst_...` file id names (None for an upload)."""
    return file_id.removeprefix(RESULT_PREFIX) if file_id.startswith(RESULT_PREFIX) else None


async def find(rt: Runtime, account_id: str, file_id: str) -> File:
    """An uploaded file of this account."""
    record = await rt.redis.hgetall(_key(rt, file_id)) if file_id else {}
    if not record:
        raise JobNotFound(f"No file {file_id!r} (or it has expired).")
    if record["account"] != account_id:
        raise NotYourJob("That file belongs to another account.")
    blob = blob_key(file_id) if record["state"] == "ready" else ""
    return File(file_id, record["account"], blob, record["state"], record.get("detail", ""))


def result_id(job_id: str) -> str:
    return RESULT_PREFIX + job_id

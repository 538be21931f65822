"""The calling account's custom models (LoRA adapters of a generator model): upload one
(multipart `file`, `name`, `trigger_words`, `base_model`), list them with the published ones,
delete one; an admin publishes one to everyone. Used as `model=custom:<name>`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from serve_app.api.deps import AdminOnly, CurrentAccount, RuntimeDep
from serve_app.core.errors import CustomModelExists, ImageTooLarge, InvalidLora, InvalidParameter
from serve_app.core.runtime import Runtime
from serve_app.engine import loras
from serve_app.operations._generating import lora_base

router = APIRouter(tags=["custom models"])


async def _file(request: Request, rt: Runtime) -> tuple[bytes, dict[str, str]]:
    cap = rt.settings.max_lora_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap + 64 * 1024:
        raise ImageTooLarge(f"A custom model is at most {cap} bytes.")
    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=cap + 1)
    except Exception as exc:
        raise InvalidParameter(f"Send multipart/form-data with a `file` part: {exc}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidParameter("Send the LoRA as the multipart `file` part.")
        if not (upload.filename or "").lower().endswith(".safetensors"):
            raise InvalidLora("Only .safetensors files are accepted (never a pickle).")
        data = await upload.read(cap + 1)
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    finally:
        await form.close()
    if len(data) > cap:
        raise ImageTooLarge(f"A custom model is at most {cap} bytes.")
    return data, fields


@router.post("/v1/custom-models", status_code=201)
async def upload(request: Request, account: CurrentAccount, rt: RuntimeDep) -> dict:
    """A LoRA checked against its base model (default: the first generator), kept until
    deleted. Its trigger words are put in front of every prompt that lacks them."""
    data, fields = await _file(request, rt)
    name = loras.check_name(fields.get("name"))
    words = loras.trigger_words(fields.get("trigger_words"))
    base, folder = lora_base(rt.catalog, fields.get("base_model") or None)
    shape = await asyncio.to_thread(loras.inspect, data, folder)
    if await rt.redis.hexists(rt.keys.custom_models(account.id), name):
        raise CustomModelExists(f"You have a custom model {name!r}: delete it first.")
    model = loras.new(account.id, name, base, words, data, shape, rt.clock())
    return {"ok": True, **(await loras.save(rt, model, data)).view()}


@router.get("/v1/custom-models")
async def listed(account: CurrentAccount, rt: RuntimeDep) -> dict:
    found = await loras.listed(rt, account.id)
    return {"ok": True, "models": [model.view() for model in found]}


@router.delete("/v1/custom-models/{name}")
async def delete(name: str, account: CurrentAccount, rt: RuntimeDep) -> dict:
    model = await loras.delete(rt, account.id, loras.check_name(name))
    return {"ok": True, "model": loras.PREFIX + model.name, "deleted": True}


class Publish(BaseModel):
    account_id: str
    name: str


@router.post("/admin/custom-models/publish", dependencies=[AdminOnly])
async def publish(body: Publish, rt: RuntimeDep) -> dict:
    """An account's custom model, usable by every account under the same name."""
    model = await loras.publish(rt, body.account_id, loras.check_name(body.name))
    return {"ok": True, **model.view()}

"""Reading a PicWish task: exactly one of `image_file` (a multipart file) and `image_url`,
with the other fields as form or JSON fields, up to PicWish's 20 MB."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from serve_app.api.inputs import Submission, json_object
from serve_app.core.errors import ImageTooLarge, InvalidParameter, NoImage
from serve_app.core.fetch import fetch_image
from serve_app.core.settings import Settings
from serve_app.vendors.picwish.mapping import MAX_BYTES

FORM = ("multipart/form-data", "application/x-www-form-urlencoded")
NEITHER = "Send the image as image_file (a multipart file) or image_url."


async def read(request: Request, settings: Settings) -> Submission:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES + 64 * 1024:
        raise ImageTooLarge(f"The request body is larger than {MAX_BYTES} bytes allow.")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data, fields = await (_form(request) if kind in FORM else _json(request))
    url = fields.pop("image_url", None)
    if data is not None and url:
        raise InvalidParameter("Send image_file or image_url, not both.")
    if data is None and not url:
        raise NoImage(NEITHER)
    if data is None:
        data = await _fetch(url, settings)
    return Submission(data, {**dict(request.query_params), **fields})


async def _form(request: Request) -> tuple[bytes | None, dict[str, Any]]:
    try:
        form = await request.form(max_files=2, max_fields=32, max_part_size=MAX_BYTES + 1)
    except Exception as exc:
        raise InvalidParameter(f"The form body cannot be parsed: {exc}") from exc
    try:
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        upload = form.get("image_file")
        if isinstance(upload, str) and upload:
            raise InvalidParameter("image_file must be a file part, not a text field.")
        data = await upload.read(MAX_BYTES + 1) if isinstance(upload, UploadFile) else None
    finally:
        await form.close()
    fields.pop("image_file", None)
    if data is not None and len(data) > MAX_BYTES:
        raise ImageTooLarge(f"image_file is larger than {MAX_BYTES} bytes.")
    if data == b"":
        raise NoImage("image_file is empty.")
    return data, fields


async def _json(request: Request) -> tuple[None, dict[str, Any]]:
    body = await request.body()
    if not body.strip():
        raise NoImage(NEITHER)
    payload = json_object(body)
    if payload.get("image_file"):
        raise InvalidParameter("image_file must be sent as a multipart file.")
    return None, {k: v for k, v in payload.items() if k != "image_file"}


async def _fetch(url: Any, settings: Settings) -> bytes:
    if not isinstance(url, str):
        raise InvalidParameter("image_url must be a string.")
    return await fetch_image(
        url,
        max_bytes=MAX_BYTES,
        timeout_s=settings.url_fetch_timeout_s,
        max_redirects=settings.url_max_redirects,
        allow_private=settings.allow_private_urls,
    )

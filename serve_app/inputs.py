"""Read a submission: the image (multipart `image`, JSON `image_base64` or `image_url`) and
its parameters (form fields, JSON fields, then query string), with clear errors."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request

from serve_app.errors import (
    ImageTooLarge,
    InvalidBase64,
    InvalidJson,
    InvalidParameter,
    NoImage,
)
from serve_app.fetch import fetch_image
from serve_app.settings import Settings

_DATA_URI = re.compile(r"^data:[\w/+.-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)
_FORM_OVERHEAD = 64 * 1024


@dataclass
class Submission:
    image: bytes
    params: dict[str, Any]


async def read_submission(request: Request, settings: Settings) -> Submission:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    _check_length(request, settings)
    if content_type == "multipart/form-data" or content_type == "application/x-www-form-urlencoded":
        image, params = await _read_form(request, settings)
    elif content_type in ("application/json", "") or content_type.endswith("+json"):
        image, params = await _read_json(request, settings)
    else:
        raise InvalidParameter(
            "Send the image as multipart/form-data (field `image`) or as JSON "
            "(`image_base64` or `image_url`)."
        )
    params = {**dict(request.query_params), **params}
    return Submission(image, params)


def _check_length(request: Request, settings: Settings) -> None:
    declared = request.headers.get("content-length", "")
    limit = settings.max_image_bytes * 4 // 3 + _FORM_OVERHEAD
    if declared.isdigit() and int(declared) > limit:
        raise ImageTooLarge(f"The request body is larger than {limit} bytes.")


async def _read_form(request: Request, settings: Settings) -> tuple[bytes, dict[str, Any]]:
    try:
        form = await request.form(
            max_files=4, max_fields=64, max_part_size=settings.max_image_bytes + 1
        )
    except Exception as exc:
        raise InvalidParameter(f"The form body cannot be parsed: {exc}") from exc
    params = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    upload = form.get("image")
    if isinstance(upload, UploadFile):
        data = await upload.read(settings.max_image_bytes + 1)
        await form.close()
        if len(data) > settings.max_image_bytes:
            raise ImageTooLarge(f"The image is larger than {settings.max_image_bytes} bytes.")
        if not data:
            raise NoImage("The `image` field is empty.")
        return data, params
    await form.close()
    return await _image_from_fields(params, settings), params


async def _read_json(request: Request, settings: Settings) -> tuple[bytes, dict[str, Any]]:
    body = await request.body()
    if not body.strip():
        raise NoImage(
            "Send an image: multipart field `image`, or JSON `image_base64` or `image_url`."
        )
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"Body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidJson("The JSON body must be an object.")
    return await _image_from_fields(payload, settings), payload


async def _image_from_fields(fields: dict[str, Any], settings: Settings) -> bytes:
    if fields.get("image_base64"):
        return decode_base64(fields["image_base64"], settings.max_image_bytes)
    if fields.get("image_url"):
        url = fields["image_url"]
        if not isinstance(url, str):
            raise InvalidParameter("image_url must be a string.")
        return await fetch_image(
            url,
            max_bytes=settings.max_image_bytes,
            timeout_s=settings.url_fetch_timeout_s,
            max_redirects=settings.url_max_redirects,
            allow_private=settings.allow_private_urls,
        )
    raise NoImage("Send an image: multipart field `image`, or JSON `image_base64` or `image_url`.")


def decode_base64(value: Any, max_bytes: int) -> bytes:
    if not isinstance(value, str):
        raise InvalidBase64("image_base64 must be a string.")
    text = _DATA_URI.sub("", value.strip(), count=1)
    text = "".join(text.split())
    if len(text) > (max_bytes + 2) // 3 * 4 + 4:
        raise ImageTooLarge(f"The decoded image would be larger than {max_bytes} bytes.")
    try:
        altchars = b"-_" if ("-" in text or "_" in text) else None
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidBase64("image_base64 is not valid base64.") from exc
    if not data:
        raise NoImage("image_base64 is empty.")
    return data

"""Read a submission: the image (multipart `image`, JSON `image_base64` or `image_url`, or
`from_job`: the result of an earlier job, fetched by the submit path), an optional mask and
an optional second photo the same ways (`mask`, `mask_base64`, `mask_url`;
`reference_image`, `reference_image_base64`, `reference_image_url`) and the parameters (form
fields, JSON fields, then query string), with clear errors. An operation without an input
photo (text-to-image) reads the parameters alone."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request

from serve_app.core.errors import (
    ImageTooLarge,
    InvalidBase64,
    InvalidJson,
    InvalidParameter,
    NoImage,
)
from serve_app.core.fetch import fetch_image
from serve_app.core.settings import Settings

_DATA_URI = re.compile(r"^data:[\w/+.-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)
_FORM_OVERHEAD = 64 * 1024


FROM_JOB = "from_job"


@dataclass
class Submission:
    image: bytes | None  # None: `params["from_job"]` names the job whose result is the input
    params: dict[str, Any]  # (or the operation takes no input photo)
    mask: bytes | None = None
    reference: bytes | None = None  # a second photo


REFERENCE = "reference_image"


async def read_submission(
    request: Request, settings: Settings, image_required: bool = True
) -> Submission:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    _check_length(request, settings)
    if content_type == "multipart/form-data" or content_type == "application/x-www-form-urlencoded":
        image, extra, params = await _read_form(request, settings, image_required)
    elif content_type in ("application/json", "") or content_type.endswith("+json"):
        image, extra, params = await _read_json(request, settings, image_required)
    else:
        raise InvalidParameter(
            "Send the image as multipart/form-data (field `image`) or as JSON "
            "(`image_base64` or `image_url`)."
        )
    params = {**dict(request.query_params), **params}
    if params.get(FROM_JOB) not in (None, "") and image is not None:
        raise InvalidParameter("Send an image or from_job, not both.")
    return Submission(image, params, *extra)


def _check_length(request: Request, settings: Settings) -> None:
    declared = request.headers.get("content-length", "")
    # room for an image and a mask, each base64-encoded at worst
    limit = settings.max_image_bytes * 8 // 3 + _FORM_OVERHEAD
    if declared.isdigit() and int(declared) > limit:
        raise ImageTooLarge(f"The request body is larger than {limit} bytes.")


Extra = tuple[bytes | None, bytes | None]  # the mask, the reference photo
Read = tuple[bytes | None, Extra, dict[str, Any]]


async def _read_form(request: Request, settings: Settings, image_required: bool) -> Read:
    try:
        form = await request.form(
            max_files=4, max_fields=64, max_part_size=settings.max_image_bytes + 1
        )
    except Exception as exc:
        raise InvalidParameter(f"The form body cannot be parsed: {exc}") from exc
    params = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    try:
        image = await _read_upload(form.get("image"), "image", settings)
        mask = await _read_upload(form.get("mask"), "mask", settings)
        reference = await _read_upload(form.get(REFERENCE), REFERENCE, settings)
    finally:
        await form.close()
    fields = {**request.query_params, **params}
    if not image_required:
        no_photo(fields, image)
    elif image is None:
        image = await _image_from_fields(fields, settings)
    if mask is None:
        mask = await _image_from_fields(params, settings, "mask", required=False)
    if reference is None:
        reference = await _image_from_fields(params, settings, REFERENCE, required=False)
    return image, (mask, reference), params


async def _read_upload(upload: Any, field: str, settings: Settings) -> bytes | None:
    if not isinstance(upload, UploadFile):
        return None
    data = await upload.read(settings.max_image_bytes + 1)
    if len(data) > settings.max_image_bytes:
        raise ImageTooLarge(f"The {field} is larger than {settings.max_image_bytes} bytes.")
    if not data:
        raise (NoImage if field == "image" else InvalidParameter)(f"The `{field}` field is empty.")
    return data


def json_object(body: bytes) -> dict[str, Any]:
    """A JSON body that must be an object, or invalid_json."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"Body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidJson("The JSON body must be an object.")
    return payload


async def _read_json(request: Request, settings: Settings, image_required: bool) -> Read:
    body = await request.body()
    if not body.strip():
        if not image_required:
            raise InvalidParameter("Send the parameters as a JSON object or a form.")
        raise NoImage(
            "Send an image: multipart field `image`, or JSON `image_base64` or `image_url`."
        )
    payload = json_object(body)
    fields = {**request.query_params, **payload}
    if not image_required:
        no_photo(fields, None)
    image = await _image_from_fields(fields, settings) if image_required else None
    mask = await _image_from_fields(payload, settings, "mask", required=False)
    reference = await _image_from_fields(payload, settings, REFERENCE, required=False)
    return image, (mask, reference), payload


def no_photo(fields: dict[str, Any], upload: bytes | None) -> None:
    """An operation without an input photo refuses one before fetching or decoding it."""
    sent = upload is not None or any(fields.get(f"image{s}") for s in ("", "_base64", "_url"))
    if sent or fields.get(FROM_JOB) not in (None, ""):
        raise InvalidParameter("This operation takes no input photo; send its parameters only.")


async def _image_from_fields(
    fields: dict[str, Any], settings: Settings, name: str = "image", required: bool = True
) -> bytes | None:
    if fields.get(f"{name}_base64"):
        return decode_base64(fields[f"{name}_base64"], settings.max_image_bytes, f"{name}_base64")
    if fields.get(f"{name}_url"):
        return await image_at(fields[f"{name}_url"], settings, f"{name}_url")
    if not required or fields.get(FROM_JOB) not in (None, ""):
        return None
    raise NoImage(
        "Send an image: multipart field `image`, JSON `image_base64` or `image_url`, or "
        "`from_job` (a finished job of yours)."
    )


async def image_at(url: Any, settings: Settings, field: str = "image_url") -> bytes:
    """The image at an http(s) URL, within the server's size, time and address limits."""
    if not isinstance(url, str):
        raise InvalidParameter(f"{field} must be a string.")
    return await fetch_image(
        url,
        max_bytes=settings.max_image_bytes,
        timeout_s=settings.url_fetch_timeout_s,
        max_redirects=settings.url_max_redirects,
        allow_private=settings.allow_private_urls,
    )


def decode_base64(value: Any, max_bytes: int, field: str = "image_base64") -> bytes:
    if not isinstance(value, str):
        raise InvalidBase64(f"{field} must be a string.")
    text = _DATA_URI.sub("", value.strip(), count=1)
    text = "".join(text.split())
    if len(text) > (max_bytes + 2) // 3 * 4 + 4:
        raise ImageTooLarge(f"The decoded image would be larger than {max_bytes} bytes.")
    try:
        altchars = b"-_" if ("-" in text or "_" in text) else None
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidBase64(f"{field} is not valid base64.") from exc
    if not data:
        raise NoImage(f"{field} is empty.")
    return data

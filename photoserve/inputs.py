"""What a photo argument may be, and how it goes over the wire: a path (str or Path), bytes,
a PIL image, a numpy array (uint8; height x width, with 3 or 4 channels or none), a URL
(sent as `<field>_url`, fetched by the server) or a finished job (its result, sent as
`from_job`; the main photo only). PIL and numpy are imported only for such a value."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Upload:
    """One photo field: a file part, or a URL the server fetches."""

    field: str
    data: bytes | None = None
    filename: str = "image.png"
    url: str | None = None


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value.split("://", 1)[0].lower() in ("http", "https")


def upload(field: str, value: Any) -> Upload:
    """`value` as the `field` of a submit (TypeError for what no photo can be)."""
    if is_url(value):
        return Upload(field, url=value)
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        return Upload(field, path.read_bytes(), path.name)
    if isinstance(value, bytes | bytearray | memoryview):
        return Upload(field, bytes(value), "image")
    encoded = _encoded(value)
    if encoded is None:
        raise TypeError(f"{field}: a path, bytes, a PIL image, a numpy array or a URL")
    return Upload(field, encoded, "image.png")


def _encoded(value: Any) -> bytes | None:
    """A PIL image or a numpy array as PNG bytes; None for anything else."""
    kind = type(value).__module__.split(".")[0]
    if kind not in ("PIL", "numpy"):
        return None
    from PIL import Image

    image = Image.fromarray(value) if kind == "numpy" else value
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def request_parts(uploads: list[Upload], params: dict[str, Any]) -> dict[str, Any]:
    """httpx's `files` and `data` for a multipart submit; URLs go as fields."""
    files = {u.field: (u.filename, u.data) for u in uploads if u.data is not None}
    data = {f"{u.field}_url": u.url for u in uploads if u.url is not None}
    data.update({key: _form_value(value) for key, value in params.items() if value is not None})
    return {"files": files or None, "data": data}


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

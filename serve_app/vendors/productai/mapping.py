"""ProductAI's words for ours: job states, error codes and statuses, its model names (each a
configured model at ProductAI's price, configs/plans.yaml `vendors.productai`), and its
request fields in the generate / edit operations' terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serve_app.core.errors import InvalidModel, InvalidUrl
from serve_app.core.plans import Plans
from serve_app.engine.jobs import JobStatus

STATUS = {
    JobStatus.QUEUED: "NOT_STARTED",
    JobStatus.PROCESSING: "RUNNING",
    JobStatus.DONE: "COMPLETED",
    JobStatus.FAILED: "ERROR",
}
# its error table; everything about the input photo is INVALID_IMAGE_URL
CODES = {
    "missing_key": (401, "INVALID_API_KEY"),
    "invalid_key": (401, "INVALID_API_KEY"),
    "invalid_key_format": (401, "INVALID_API_KEY"),
    "out_of_credits": (402, "OUT_OF_TOKENS"),
    "rate_limit_exceeded": (429, "RATE_LIMIT_EXCEEDED"),
    "invalid_model": (400, "INVALID_MODEL"),
    "job_not_found": (404, "JOB_NOT_FOUND"),
    "not_your_job": (404, "JOB_NOT_FOUND"),  # "doesn't exist or belongs to another user"
    "invalid_job_id": (404, "JOB_NOT_FOUND"),
}
IMAGE_CODES = {
    "no_image",
    "invalid_url",
    "url_not_allowed",
    "url_fetch_failed",
    "invalid_format",
    "corrupt_image",
    "image_too_large",
    "pixel_too_large",
    "pixel_too_small",
    "invalid_base64",
}
MAX_IMAGES = 2
MAX_BYTES = 10 * 1024 * 1024  # "Max size: 10 MB"
FORMATS = ("jpg", "png", "webp")  # "PNG, JPG, JPEG, WebP"
# its default resolution is 2K for the models that take one, the model's own size otherwise
RESOLUTION_MODELS = {"nanobanana", "nanobananapro"}


def error(status: int, code: str) -> tuple[int, str]:
    if code in CODES:
        return CODES[code]
    if code in IMAGE_CODES:
        return 400, "INVALID_IMAGE_URL"
    return status, code.upper()


@dataclass(frozen=True)
class Model:
    name: str  # ProductAI's
    model: str  # ours (models.yaml)
    cost: int


def model(plans: Plans, name: Any) -> Model:
    table = (plans.vendors.get("productai") or {}).get("models") or {}
    if not isinstance(name, str) or name not in table:
        raise InvalidModel(f"model must be one of {', '.join(table)}; got {name!r}.")
    return Model(name, table[name]["model"], int(table[name]["cost"]))


def upscale_cost(plans: Plans) -> int:
    return int((plans.vendors.get("productai") or {}).get("upscale", 20))


def image_urls(value: Any, required: bool = True) -> list[str]:
    """`image_url`: a string or a list of at most two."""
    urls = [value] if isinstance(value, str) else value
    if urls in (None, [], "") and not required:
        return []
    if not isinstance(urls, list) or not 1 <= len(urls) <= MAX_IMAGES:
        raise InvalidUrl(f"image_url must be a URL or a list of 1 to {MAX_IMAGES} URLs.")
    if not all(isinstance(url, str) and url.strip() for url in urls):
        raise InvalidUrl("Each image_url must be a non-empty string.")
    return [url.strip() for url in urls]


def params(body: dict[str, Any], chosen: Model) -> dict[str, Any]:
    """The generate/edit operation's parameters for a ProductAI request."""
    resolution = body.get("resolution")
    if resolution in (None, "") and chosen.name in RESOLUTION_MODELS:
        resolution = "2K"
    fields = {
        "prompt": body.get("prompt"),
        "model": chosen.model,
        "output_format": body.get("output_format"),
        "aspect_ratio": body.get("aspect_ratio"),
        "resolution": resolution,
    }
    return {name: value for name, value in fields.items() if value not in (None, "")}

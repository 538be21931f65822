"""PixelForge's API (its docs: "PixelForge API"): its clients use a base URL ending in
/api/v1, so the native operation and job routes are mounted again under /api, with
PixelForge's status table: 422 for every validation error (where the native API says
400/413/415) and 502 for "inference or storage error (retry later)"."""

from fastapi import APIRouter

from serve_app import operations
from serve_app.api import schemas
from serve_app.api.routes import download, status, submit
from serve_app.api.surface import Surface
from serve_app.core.errors import ApiError

PREFIX = "/api/v1/"
_STATUS = {400: 422, 413: 422, 415: 422}
_CODES = {"job_failed": 502, "service_unavailable": 502}


def render_error(error: ApiError) -> tuple[int, dict]:
    status = _CODES.get(error.code) or _STATUS.get(error.status, error.status)
    return status, error.body()


def routers() -> list[APIRouter]:
    mounted = APIRouter(prefix="/api")
    mounted.include_router(submit.router(operations.all_operations()))
    mounted.include_router(status.router)
    mounted.include_router(download.router)
    return [mounted]


SURFACE = Surface(
    name="pixelforge",
    prefix=PREFIX,
    routers=routers,
    render_error=render_error,
    tag="PixelForge compatible",  # its own section of /docs, not the native ones again
    bodies=schemas.mounted("/api", {k: v for k, v in schemas.BODIES.items() if "/jobs" in k[1]}),
)

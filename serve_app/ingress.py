"""The FastAPI app. Runs inside a Serve deployment (serve_app.app) or on its own:
`uvicorn serve_app.ingress:app` (no dispatching; same Redis, same data)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from serve_app.api.deps import ModelStatus
from serve_app.api.middleware import RateLimitHeaders
from serve_app.api.responses import OrjsonResponse
from serve_app.api.routes import (
    account,
    admin,
    editing,
    health,
    jobs,
    models,
    restore_face,
    upscale,
    webhook,
)
from serve_app.core import metrics
from serve_app.core.errors import (
    ApiError,
    InternalError,
    InvalidJson,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)
from serve_app.core.runtime import Runtime
from serve_app.core.settings import Settings, get_settings
from serve_app.vendors.pnd import routes as pnd

log = logging.getLogger("photoserve.ingress")


# PixelForge's surface (/api/v1/...) answers with its own table: 422 for every validation
# error, 502 for "inference or storage error (retry later)".
PIXELFORGE_PREFIX = "/api/v1/"
_PIXELFORGE_STATUS = {400: 422, 413: 422, 415: 422}
_PIXELFORGE_CODES = {"job_failed": 502, "service_unavailable": 502}


def pixelforge_status(error: ApiError) -> int:
    return _PIXELFORGE_CODES.get(error.code) or _PIXELFORGE_STATUS.get(error.status, error.status)


def _render(error: ApiError, request: Request | None = None) -> OrjsonResponse:
    status = error.status
    if request is not None and request.url.path.startswith(PIXELFORGE_PREFIX):
        status = pixelforge_status(error)
    return OrjsonResponse(error.body(), status_code=status, headers=error.headers)


async def on_api_error(request: Request, exc: ApiError) -> OrjsonResponse:
    if exc.code == "rate_limit_exceeded":
        runtime = getattr(request.app.state, "runtime", None)
        if runtime is not None:
            await metrics.count(runtime, "rate_limited_total", str(exc.extra.get("tier", "")))
    return _render(exc, request)


async def on_validation_error(request: Request, exc: RequestValidationError) -> OrjsonResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return _render(InvalidJson("Body is not valid JSON."), request)
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    detail = f"{where}: {first.get('msg', 'invalid value')}".strip(": ")
    return _render(InvalidParameter(detail), request)


async def on_http_error(request: Request, exc: HTTPException) -> OrjsonResponse:
    if exc.status_code == 404:
        return _render(NotFound(f"No route {request.method} {request.url.path}."))
    if exc.status_code == 405:
        return _render(MethodNotAllowed(f"{request.method} is not allowed here."))
    error = ApiError(str(exc.detail))
    return OrjsonResponse(error.body(), status_code=exc.status_code)


async def on_redis_error(request: Request, exc: RedisError) -> OrjsonResponse:
    log.warning("redis unavailable on %s %s: %s", request.method, request.url.path, exc)
    return _render(ServiceUnavailable(headers={"Retry-After": "1"}), request)


async def on_client_gone(request: Request, exc: ClientDisconnect) -> Response:
    return Response(status_code=499)  # nobody is listening; nothing to log


async def on_unexpected(request: Request, exc: Exception) -> OrjsonResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _render(InternalError())


@asynccontextmanager
async def lifespan(app: FastAPI):
    owned = getattr(app.state, "runtime", None) is None
    if owned:
        app.state.runtime = Runtime.create(app.state.settings or get_settings())
    try:
        yield
    finally:
        if owned:
            await app.state.runtime.close()
            app.state.runtime = None


def create_app(
    runtime: Runtime | None = None,
    model_status: ModelStatus | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    app = FastAPI(
        title="photoserve",
        version="0.1.0",
        description="Self-hosted AI photo API: submit an image, get a job id, poll, download.",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.model_status = model_status
    app.add_middleware(RateLimitHeaders)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RedisError, on_redis_error)
    app.add_exception_handler(ClientDisconnect, on_client_gone)
    app.add_exception_handler(Exception, on_unexpected)
    for module in (health, admin, upscale, restore_face, editing, jobs, account, models, webhook):
        app.include_router(module.router)
    app.include_router(pnd.router)
    # PixelForge's clients use a base URL ending in /api/v1: the same routes, its status table
    for module in (upscale, restore_face, editing, jobs):
        app.include_router(module.router, prefix="/api", include_in_schema=False)
    return app


app = create_app()

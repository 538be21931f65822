"""Exception handlers: every failure leaves as the error envelope of the surface the request
came in on (native by default), never a trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from serve_app.api import surface
from serve_app.api.responses import OrjsonResponse
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

log = logging.getLogger("photoserve.ingress")


def render(error: ApiError, request: Request) -> OrjsonResponse:
    found = surface.for_path(request.app.state.surfaces, request.url.path)
    status, body = (found.render_error if found else surface.native_error)(error)
    return OrjsonResponse(body, status_code=status, headers=error.headers)


async def on_api_error(request: Request, exc: ApiError) -> OrjsonResponse:
    if exc.code == "rate_limit_exceeded":
        runtime = getattr(request.app.state, "runtime", None)
        if runtime is not None:
            await metrics.count(runtime, "rate_limited_total", str(exc.extra.get("tier", "")))
    return render(exc, request)


async def on_validation_error(request: Request, exc: RequestValidationError) -> OrjsonResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return render(InvalidJson("Body is not valid JSON."), request)
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    detail = f"{where}: {first.get('msg', 'invalid value')}".strip(": ")
    return render(InvalidParameter(detail), request)


async def on_http_error(request: Request, exc: HTTPException) -> OrjsonResponse:
    if exc.status_code == 404:
        return render(NotFound(f"No route {request.method} {request.url.path}."), request)
    if exc.status_code == 405:
        return render(MethodNotAllowed(f"{request.method} is not allowed here."), request)
    if exc.status_code == 400:  # FastAPI could not parse the body it was to read
        if "json" in request.headers.get("content-type", ""):
            return render(InvalidJson("Body is not valid JSON (UTF-8)."), request)
        return render(InvalidParameter(f"{exc.detail}."), request)
    error = ApiError(str(exc.detail))
    error.status = exc.status_code  # in the surface's envelope, with the status raised
    return render(error, request)


async def on_redis_error(request: Request, exc: RedisError) -> OrjsonResponse:
    log.warning("redis unavailable on %s %s: %s", request.method, request.url.path, exc)
    return render(ServiceUnavailable(headers={"Retry-After": "1"}), request)


async def on_client_gone(request: Request, exc: ClientDisconnect) -> Response:
    return Response(status_code=499)  # nobody is listening; nothing to log


async def on_unexpected(request: Request, exc: Exception) -> OrjsonResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return render(InternalError(), request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RedisError, on_redis_error)
    app.add_exception_handler(ClientDisconnect, on_client_gone)
    app.add_exception_handler(Exception, on_unexpected)

"""The FastAPI app, assembled: the native API and every vendor surface. Runs inside a Serve
deployment (serve_app/app.py) or on its own: `uvicorn serve_app.ingress:app` (no
dispatching; same Redis, same data).

This is the one module that imports serve_app.vendors: every package there declares one
`SURFACE`; this module mounts its routers and hands its hooks on (error rendering to the
exception handlers, its webhook style to the Serve graph's webhook worker). Adding a vendor is
adding its package.
"""

from __future__ import annotations

import importlib
import pkgutil
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from serve_app import operations, vendors
from serve_app.api import handlers, views
from serve_app.api.deps import FleetStatus
from serve_app.api.middleware import RateLimitHeaders
from serve_app.api.responses import OrjsonResponse
from serve_app.api.routes import (
    account,
    admin,
    credentials,
    custom_models,
    download,
    health,
    models,
    status,
    style_catalogs,
    submit,
    webhook,
)
from serve_app.api.surface import Surface
from serve_app.core.runtime import Runtime
from serve_app.core.settings import Settings, get_settings
from serve_app.webhooks.delivery import Render
from serve_app.webhooks.registration import STANDARD

SURFACES: list[Surface] = [
    importlib.import_module(f"{vendors.__name__}.{package.name}").SURFACE
    for package in pkgutil.iter_modules(vendors.__path__)
]


def native_routers() -> list[APIRouter]:
    modules = (
        health,
        admin,
        status,
        download,
        account,
        credentials,
        custom_models,
        models,
        style_catalogs,
        webhook,
    )
    return [submit.router(operations.all_operations()), *(m.router for m in modules)]


def webhook_styles(surfaces: list[Surface] = SURFACES) -> dict[str, Render]:
    """How each registered webhook style renders its deliveries."""
    styles = {s.webhook_style: s.render_webhook for s in surfaces if s.render_webhook}
    return {STANDARD: views.standard_webhook, **styles}


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
    fleet_status: FleetStatus | None = None,
    settings: Settings | None = None,
    surfaces: list[Surface] = SURFACES,
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
    app.state.fleet_status = fleet_status
    app.state.surfaces = surfaces
    app.add_middleware(RateLimitHeaders)
    handlers.install(app)
    for router in native_routers():
        app.include_router(router)
    for surface in surfaces:
        for router in surface.routers():
            app.include_router(router)
    return app


app = create_app()

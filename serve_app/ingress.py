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
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from serve_app import operations, vendors
from serve_app.api import docs, handlers, views
from serve_app.api.deps import FleetStatus
from serve_app.api.middleware import BodyLimit, PublicLimit, RateLimitHeaders
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


class PhotoAPI(FastAPI):
    """FastAPI with the description docs.py completes (a class, not a closure: Serve pickles
    the app into its replica)."""

    def openapi(self) -> dict:
        if self.openapi_schema is None:
            described = get_openapi(
                title=self.title,
                version=self.version,
                description=self.description,
                routes=self.routes,
            )
            self.openapi_schema = docs.describe(described, self.state.surfaces)
        return self.openapi_schema


async def docs_page() -> HTMLResponse:
    return HTMLResponse(docs.swagger_page("photoserve"))


def add_docs(app: FastAPI) -> None:
    app.add_api_route("/docs", docs_page, include_in_schema=False)
    app.mount(docs.ASSETS, StaticFiles(directory=docs.assets_dir()), name="docs-assets")


PLAYGROUND = Path(__file__).resolve().parent / "api" / "playground"


async def playground_page() -> FileResponse:
    return FileResponse(PLAYGROUND / "index.html", headers={"Cache-Control": "no-cache"})


def add_playground(app: FastAPI) -> None:
    """The web playground at / (static files: serve_app/api/playground/)."""
    app.add_api_route("/", playground_page, include_in_schema=False)
    app.mount("/playground", StaticFiles(directory=PLAYGROUND), name="playground")


BODY_OVERHEAD = 256 * 1024  # form fields, JSON around the photos


def body_limit(settings: Settings):
    """Bytes a request body may have: three photos base64-encoded (image, mask, reference)
    anywhere; a LoRA file on the custom-model upload."""
    photos = settings.max_image_bytes * 4 + BODY_OVERHEAD
    lora = settings.max_lora_bytes + BODY_OVERHEAD

    def limit(path: str) -> int:
        return lora if path == "/v1/custom-models" else photos

    return limit


def add_cors(app: FastAPI, settings: Settings) -> None:
    """Browser clients on the origins the operator lists (PHOTOSERVE_CORS_ORIGINS)."""
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=docs.EXPOSED_HEADERS,
        )


def create_app(
    runtime: Runtime | None = None,
    fleet_status: FleetStatus | None = None,
    settings: Settings | None = None,
    surfaces: list[Surface] = SURFACES,
) -> FastAPI:
    app = PhotoAPI(
        title="photoserve",
        version="0.1.0",
        description="Self-hosted AI photo API: submit an image, get a job id, poll, download.",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.fleet_status = fleet_status
    app.state.surfaces = surfaces
    configured = settings or (runtime.settings if runtime else get_settings())
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(PublicLimit)
    app.add_middleware(BodyLimit, limit=body_limit(configured))  # outermost: before all
    add_cors(app, configured)
    handlers.install(app)
    add_docs(app)
    add_playground(app)
    for router in native_routers():
        app.include_router(router)
    for surface in surfaces:
        for router in surface.routers():
            app.include_router(router)
    return app


app = create_app()

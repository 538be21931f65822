"""A vendor surface: another company's public API served on the same engine. Each package
under serve_app/vendors/ declares one `SURFACE`; the app assembly (serve_app/ingress.py)
mounts its routers and hands its hooks to the engine: errors under its prefix render its
way, and its webhook style renders its deliveries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter

from serve_app.api.schemas import Content, Route, Schema
from serve_app.core.errors import ApiError
from serve_app.webhooks.delivery import Render

# (HTTP status, body) of an error on this surface
ErrorRender = Callable[[ApiError], tuple[int, dict]]


def native_error(error: ApiError) -> tuple[int, dict]:
    """The native envelope `{"ok": false, "error", "detail", ...}` with the catalog's status."""
    return error.status, error.body()


@dataclass(frozen=True)
class Surface:
    name: str
    prefix: str  # its routes live under this path; errors there render with `render_error`
    routers: Callable[[], list[APIRouter]]  # built when the app is (operations registered)
    render_error: ErrorRender = native_error
    webhook_style: str = ""  # the style its webhook registrations store, if its own
    render_webhook: Render | None = None
    tag: str = ""  # /docs files its routes under this tag (for routes shared with native)
    # what /openapi.json declares of it (serve_app/api/bodies.py has the builders):
    bodies: dict[Route, Content] = field(default_factory=dict)  # route -> its success bodies
    requests: dict[Route, dict] = field(default_factory=dict)  # route -> a body read by hand
    error: Schema | None = None  # the schema of its error bodies (None: the native envelope)


def for_path(surfaces: list[Surface], path: str) -> Surface | None:
    """The surface whose prefix is the longest match of `path`, if any."""
    matches = [s for s in surfaces if path.startswith(s.prefix)]
    return max(matches, key=lambda s: len(s.prefix), default=None)

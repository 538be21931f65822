"""PND AI's public API (its docs: "PND AI Public API"), served on the native engine: its
routes under /api/, its upload fields and looks, job ids, statuses and webhook format.
Errors use the native envelope, which follows PND's table."""

from serve_app.api.surface import Surface
from serve_app.vendors.pnd import bodies, payload, routes

SURFACE = Surface(
    name="pnd",
    prefix="/api/",
    routers=lambda: [routes.router],
    webhook_style=payload.STYLE,
    render_webhook=payload.render,
    bodies=bodies.BODIES,
    requests=bodies.REQUESTS,
)

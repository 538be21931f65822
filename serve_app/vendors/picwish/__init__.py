"""PicWish's photo enhancement API (its docs: "Photo Enhancement API"): a scale task under
/api/tasks/visual/scale with the key in X-API-KEY, async or sync, the result as a URL, base64
or the image itself, in PicWish's `{status, message, data}` envelope."""

from serve_app.api.surface import Surface
from serve_app.vendors.picwish import bodies, routes


def render_error(error) -> tuple[int, dict]:
    """PicWish's envelope, with the HTTP status in `status` too, and our code beside it."""
    return error.status, {"status": error.status, "message": error.detail, "code": error.code}


SURFACE = Surface(
    name="picwish",
    prefix="/api/tasks/",
    routers=lambda: [routes.router],
    render_error=render_error,
    bodies=bodies.BODIES,
    requests=bodies.REQUESTS,
    error=bodies.ERROR,
)

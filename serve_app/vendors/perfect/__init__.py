"""Perfect Corp's AI API (its docs: "Perfect AI API (2.0)"), under /s2s/v1.0/: client
credentials exchanged for a two-hour access token (`client/auth`), the credit balance
(`client/credit`), a file store with signed uploads (`file/{task}`), and tasks run on its
files (`task/{task}`). Errors: `{"status", "error", "error_code"}` with the HTTP status,
`error_code` in Perfect's words where it has one."""

from serve_app.api.surface import Surface
from serve_app.vendors.perfect import bodies, routes, tasks


def render_error(error) -> tuple[int, dict]:
    code = tasks.ERRORS.get(error.code, error.code)
    return error.status, {"status": error.status, "error": error.detail, "error_code": code}


SURFACE = Surface(
    name="perfect",
    prefix="/s2s/",
    routers=lambda: [routes.router],
    render_error=render_error,
    bodies=bodies.BODIES,
    requests=bodies.REQUESTS,
    error=bodies.ERROR,
)

"""ProductAI's API (its docs: "ProductAI API Reference"): its base URL ends in /v1 and its paths
are /api/..., so it lives under /v1/api/: generate (one or two photos by URL and a prompt, on
one of its model names), upscale, generate-custom-model, job/{id} with integer ids, key-check;
the key in `x-api-key`; 15 requests per minute per IP. Bodies `{"status": "OK", "data"}`,
errors `{"status": "ERROR", "message", "code"}` in its codes.

Its tokens are taken when a job starts and kept when it fails; ours are charged only when the
job is done (the engine's rule), and the README says so."""

from serve_app.api.surface import Surface
from serve_app.vendors.productai import bodies, mapping, routes


def render_error(error) -> tuple[int, dict]:
    status, code = mapping.error(error.status, error.code)
    return status, {"status": "ERROR", "message": error.detail, "code": code}


SURFACE = Surface(
    name="productai",
    prefix="/v1/api/",
    routers=lambda: [routes.router],
    render_error=render_error,
    bodies=bodies.BODIES,
    requests=bodies.REQUESTS,
    error=bodies.ERROR,
)

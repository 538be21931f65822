"""Pure ASGI middleware (no per-request task churn as with BaseHTTPMiddleware)."""

from __future__ import annotations

from collections.abc import Callable

from redis.exceptions import RedisError
from starlette.requests import Request

from serve_app.api.addresses import client_address
from serve_app.billing import ratelimit
from serve_app.core.errors import ApiError, RequestTooLarge


class RateLimitHeaders:
    """Adds the rate-limit headers a dependency left in request.state to the response,
    whatever produced it (route, error handler)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = (scope.get("state") or {}).get("rate_headers")
                if extra:
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    added = [
                        (name.lower().encode(), value.encode())
                        for name, value in extra.items()
                        if name.lower().encode() not in present
                    ]
                    message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Every route's body is capped before it is read: a declared Content-Length over the
    limit is answered 413 `request_too_large` at once (in the surface's envelope), and a body
    without one (chunked) is cut off as soon as it passes the limit: the route sees the
    client gone, and its answer is replaced by the same 413. `limit(path)` gives the bytes
    a route may take."""

    def __init__(self, app, limit: Callable[[str], int]):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit(scope["path"])
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _refuse(scope, receive, send, limit)
        cut = _Cut(receive, limit)
        await self.app(scope, cut.receive, cut.guard(scope, send))


async def _answer(error: ApiError, scope, receive, send) -> None:
    """`error` in the envelope of the surface the request came in on."""
    from serve_app.api.handlers import render  # handlers imports this module's neighbours

    await render(error, Request(scope, receive))(scope, receive, send)


async def _refuse(scope, receive, send, limit: int) -> None:
    error = RequestTooLarge(
        f"The request body is larger than {limit} bytes.", headers={"Connection": "close"}
    )
    await _answer(error, scope, receive, send)  # the unread body is not drained


class _Cut:
    """Counts a body as it is read; past the limit the app is told the client left."""

    def __init__(self, receive, limit: int):
        self.inner, self.limit, self.seen, self.over = receive, limit, 0, False

    async def receive(self):
        if self.over:
            return {"type": "http.disconnect"}
        message = await self.inner()
        self.seen += len(message.get("body", b""))
        if self.seen > self.limit:
            self.over = True
            return {"type": "http.disconnect"}
        return message

    def guard(self, scope, send):
        async def guarded(message):
            if not self.over:
                return await send(message)
            if message["type"] == "http.response.start":  # the app's answer, replaced
                await _refuse(scope, self.inner, send, self.limit)

        return guarded


CREDENTIALS = (b"authorization", b"x-api-key", b"x-key")
PROBES = ("/healthz", "/readyz", "/metrics")  # orchestrators poll these: never throttled


def anonymous(scope) -> bool:
    """No key, token or signature: a request only its IP address can be held to."""
    if any(name in CREDENTIALS for name, _ in scope.get("headers") or ()):
        return False
    return b"sig=" not in scope.get("query_string", b"") and not scope["path"].startswith(PROBES)


class PublicLimit:
    """Per-IP limit on requests that carry no credential (plans.yaml
    `anonymous.rate_limits.public`, per 60 s): the public pages and routes (playground,
    docs, style catalogs, Perfect's client/auth) cannot be hammered. When Redis is away the
    request goes on to the route, which answers its own way."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and anonymous(scope):
            refused = await self._check(scope)
            if refused is not None:
                return await _answer(refused, scope, receive, send)
        return await self.app(scope, receive, send)

    async def _check(self, scope) -> ApiError | None:
        rt = getattr(scope["app"].state, "runtime", None)
        limit = rt.plans.anonymous_limits.get("public") if rt else None
        if not limit:
            return None
        ip = client_address(scope, rt.settings.trusted_proxy_hops)
        try:
            found = await ratelimit.hit(rt, f"ip:{ip}", "public", limit, "anonymous")
        except RedisError:
            return None
        return None if found.allowed else ratelimit.exceeded(found)

"""Pure ASGI middleware (no per-request task churn as with BaseHTTPMiddleware)."""

from __future__ import annotations


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

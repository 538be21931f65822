"""A fault-injecting proxy between the client and the app, as an httpx transport: per request
it forwards, drops the connection before the server sees the request, drops the answer after
the server acted on it (the case idempotency keys exist for), or answers 429/503 itself."""

from __future__ import annotations

import json
from collections.abc import Iterable

import httpx

FORWARD, DROP_BEFORE, DROP_AFTER = "forward", "drop-before", "drop-after"
FAULTS = {
    429: {"ok": False, "error": "rate_limit_exceeded", "detail": "Slow down.", "limit": 10},
    503: {"ok": False, "error": "service_unavailable", "detail": "Redis is away."},
}


def _fault(kind: object, request: httpx.Request) -> httpx.Response | None:
    if kind == DROP_BEFORE:
        raise httpx.ConnectError("connection refused (injected)", request=request)
    if kind in FAULTS:
        body = json.dumps(FAULTS[kind]).encode()
        return httpx.Response(kind, headers={"retry-after": "0"}, content=body, request=request)
    return None


class Faults:
    """The plan: one fault per request in order (then FORWARD); what reached the server."""

    def __init__(self, plan: Iterable[object] = ()) -> None:
        self.plan = list(plan)
        self.forwarded: list[str] = []
        self.requests = 0

    def next(self) -> object:
        self.requests += 1
        return self.plan.pop(0) if self.plan else FORWARD

    def after(self, kind: object, request: httpx.Request, response: httpx.Response):
        self.forwarded.append(f"{request.method} {request.url.path}")
        if kind == DROP_AFTER:
            raise httpx.ReadError("connection reset (injected)", request=request)
        return response


class AsyncFaultTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, faults: Faults) -> None:
        self.inner = inner
        self.faults = faults

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = self.faults.next()
        injected = _fault(kind, request)
        if injected is not None:
            return injected
        response = await self.inner.handle_async_request(request)
        await response.aread()
        return self.faults.after(kind, request, response)


class FaultTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, faults: Faults) -> None:
        self.inner = inner
        self.faults = faults

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        kind = self.faults.next()
        injected = _fault(kind, request)
        if injected is not None:
            return injected
        response = self.inner.handle_request(request)
        response.read()
        return self.faults.after(kind, request, response)

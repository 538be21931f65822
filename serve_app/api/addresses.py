"""The caller's IP address, which per-IP limits count: the connection's peer, or behind
`PHOTOSERVE_TRUSTED_PROXY_HOPS` proxies that each append to `X-Forwarded-For` (a cloud load
balancer in front of Serve's HAProxy, which passes the header on unchanged), the address the
outermost trusted proxy saw. Entries further left are the client's own to write, so they are
never believed."""

from __future__ import annotations

FORWARDED = b"x-forwarded-for"


def client_address(scope, trusted_hops: int) -> str:
    peer = (scope.get("client") or ("unknown",))[0]
    if trusted_hops <= 0:
        return peer
    chain = [part.strip() for part in _forwarded(scope).split(",") if part.strip()]
    return chain[-trusted_hops] if len(chain) >= trusted_hops else peer


def _forwarded(scope) -> str:
    """Every X-Forwarded-For header, joined in order (a proxy may add a header of its own)."""
    values = [value for name, value in scope.get("headers") or () if name == FORWARDED]
    return ",".join(value.decode("latin-1") for value in values)

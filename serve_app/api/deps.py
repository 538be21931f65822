"""Typed dependencies: the runtime, the calling account (rate-limited per endpoint class),
the admin check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from serve_app.api.addresses import client_address
from serve_app.billing import accounts, apikeys, ratelimit
from serve_app.billing.accounts import Account
from serve_app.core.errors import AdminDisabled, InvalidAdminToken, InvalidKey, MissingKey
from serve_app.core.plans import Plan
from serve_app.core.runtime import Runtime

DEFAULT_PLAN = "free"


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def api_key_from(request: Request) -> str | None:
    """One resolver for every header form: Bearer, x-api-key (any case), x-key."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or request.headers.get("x-key") or None


def client_ip(request: Request) -> str:
    return client_address(request.scope, get_runtime(request).settings.trusted_proxy_hops)


async def _auth_failed(request: Request, rt: Runtime) -> None:
    """Count a failed authentication against the caller's IP: key guessing gets throttled."""
    limit = rt.plans.anonymous_limits.get("auth")
    if limit:
        state = await ratelimit.hit(rt, f"ip:{client_ip(request)}", "auth", limit, "anonymous")
        if not state.allowed:
            raise ratelimit.exceeded(state)


async def current_account(request: Request, rt: RuntimeDep) -> Account:
    return await authenticate(request, rt, api_key_from(request))


async def authenticate(request: Request, rt: Runtime, api_key: str | None) -> Account:
    if api_key is None:
        await _auth_failed(request, rt)
        raise MissingKey("Send your API key as `Authorization: Bearer <key>` or `x-api-key`.")
    account = await accounts.by_key(rt, api_key) if apikeys.looks_like_key(api_key) else None
    if account is None or account.locked:
        await _auth_failed(request, rt)
        raise InvalidKey()
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]


def plan_of(rt: Runtime, account: Account) -> Plan:
    return rt.plans.get(account.plan if rt.plans.exists(account.plan) else DEFAULT_PLAN)


async def apply_rate_limit(
    request: Request, rt: Runtime, account: Account, rate_class: str
) -> None:
    plan = plan_of(rt, account)
    limit = plan.limit(rate_class)
    if limit:
        state = await ratelimit.hit(rt, account.id, rate_class, limit, plan.name)
        request.state.rate_headers = state.headers()
        if not state.allowed:
            raise ratelimit.exceeded(state)


def _rate_limited(rate_class: str):
    async def dependency(request: Request, account: CurrentAccount, rt: RuntimeDep) -> Account:
        await apply_rate_limit(request, rt, account, rate_class)
        return account

    return Annotated[Account, Depends(dependency)]


UploadAccount = _rate_limited("upload")
StatusAccount = _rate_limited("status")
ResultAccount = _rate_limited("result")
CreditsAccount = _rate_limited("credits")
RotateAccount = _rate_limited("rotate")
WebhookAccount = _rate_limited("webhook")


def require_admin(request: Request, rt: RuntimeDep) -> None:
    token = rt.settings.admin_token
    if not token:
        raise AdminDisabled("Set PHOTOSERVE_ADMIN_TOKEN to use the admin API.")
    auth = request.headers.get("authorization", "")
    given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not given or not apikeys.same(given, token):
        raise InvalidAdminToken()


AdminOnly = Depends(require_admin)


@dataclass(frozen=True)
class Fleet:
    """What the model deployments report. `models`: model -> loaded in a replica (False:
    listed but not loaded; None: its deployment is scaled to zero and loads it on the next
    request). `deployments`: deployment -> "up", "idle" (scaled to zero) or "down" (no
    answer). `runs`: operation -> the deployment that runs it."""

    models: dict[str, bool | None]
    deployments: dict[str, str]
    runs: dict[str, str]


FleetStatus = Callable[[], Awaitable[Fleet]]
# Set by the Serve Ingress replica. A module global, not app.state: Serve runs a deserialized
# copy of the FastAPI app, while this module is shared by the replica and the routes.
_fleet_status: FleetStatus | None = None


def use_fleet_status(provider: FleetStatus | None) -> None:
    global _fleet_status
    _fleet_status = provider


async def fleet(request: Request) -> Fleet | None:
    """None where this process has no model deployments (plain uvicorn)."""
    provider = getattr(request.app.state, "fleet_status", None) or _fleet_status
    return await provider() if provider else None


FleetDep = Annotated[Fleet | None, Depends(fleet)]

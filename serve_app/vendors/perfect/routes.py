"""Perfect Corp's client/auth and client/credit, and who a request acts for: the account
behind its Bearer access token, within Perfect's rate limits (100 requests per 5 minutes per
IP, 100 per minute per access token; 429 with Retry-After)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from serve_app.api.deps import client_ip, get_runtime
from serve_app.billing import accounts, clients, credits, ratelimit
from serve_app.billing.accounts import Account, AccountMissing
from serve_app.billing.apikeys import hash_key
from serve_app.core.errors import InvalidAccessToken
from serve_app.core.runtime import Runtime

router = APIRouter(prefix="/s2s/v1.0", tags=["Perfect Corp compatible"])
PER_IP, PER_IP_WINDOW_S = 100, 300
PER_TOKEN, PER_TOKEN_WINDOW_S = 100, 60


async def _limit(rt: Runtime, subject: str, limit: int, window_s: int) -> None:
    state = await ratelimit.hit(rt, subject, "perfect", limit, "perfect", window_s)
    if not state.allowed:
        raise ratelimit.exceeded(state)


async def perfect_account(request: Request, rt: Runtime) -> Account:
    """The account behind `Authorization: Bearer <access token>`, rate-limited per IP and
    per token."""
    await _limit(rt, f"ip:{client_ip(request)}", PER_IP, PER_IP_WINDOW_S)
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    account_id = await clients.account_for(rt, token) if token else None
    if account_id is None:
        raise InvalidAccessToken("Send `Authorization: Bearer <access_token>` from client/auth.")
    await _limit(
        rt, f"token:{hash_key(rt.settings.key_secret, token)[:24]}", PER_TOKEN, PER_TOKEN_WINDOW_S
    )
    try:
        record = await accounts.get(rt, account_id)
    except AccountMissing as exc:
        raise InvalidAccessToken("The account behind this token is gone.") from exc
    if record.get("locked") == "1":
        raise InvalidAccessToken("The account behind this token is locked.")
    return Account(account_id, record.get("plan", ""), False)


class AuthBody(BaseModel):
    client_id: str
    id_token: str


@router.post("/client/auth")
async def client_auth(body: AuthBody, request: Request) -> dict:
    """An access token (valid 2 hours) for an id_token: `client_id=<id>&timestamp=<ms>`
    encrypted (RSA, PKCS#1 v1.5) with the client_secret, base64."""
    rt = get_runtime(request)
    await _limit(rt, f"ip:{client_ip(request)}", PER_IP, PER_IP_WINDOW_S)
    token = await clients.exchange(rt, body.client_id, body.id_token)
    return {"status": 200, "result": {"access_token": token}}


@router.get("/client/credit")
async def client_credit(request: Request) -> dict:
    """The balance as Perfect lists it: one entry per credit bucket, `amount` each."""
    rt = get_runtime(request)
    account = await perfect_account(request, rt)
    balance = await credits.balance(rt, account.id, account.plan)
    buckets = {k: v for k, v in balance.buckets().items() if k != "total"}
    return {"status": 200, "results": [{"type": k, "amount": v} for k, v in buckets.items()]}

"""The calling account: balance, key check, key rotation, usage statistics."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from serve_app.api.deps import CreditsAccount, RotateAccount, RuntimeDep, api_key_from
from serve_app.billing import accounts, credits, stats
from serve_app.core.clock import iso

router = APIRouter(tags=["account"])


@router.get("/v1/credits")
async def get_credits(account: CreditsAccount, rt: RuntimeDep) -> dict:
    balance = await credits.balance(rt, account.id, account.plan)
    return {
        "ok": True,
        "account_id": account.id,
        "user_type": account.plan,
        "credits": balance.buckets(),
        "held": balance.held,
        "today": {"used": balance.used_today, "limit": balance.free_limit},
    }


@router.get("/v1/key-check")
async def key_check(account: CreditsAccount, rt: RuntimeDep) -> dict:
    balance = await credits.balance(rt, account.id, account.plan)
    return {"ok": True, "valid": True, "plan": account.plan, "tokens_remaining": balance.total}


@router.post("/v1/keys/rotate")
async def rotate_key(request: Request, account: RotateAccount, rt: RuntimeDep) -> dict:
    old_key = api_key_from(request) or ""
    new_key = await accounts.rotate(rt, account.id, old_key)
    return {
        "ok": True,
        "old_key_prefix": accounts.key_prefix(old_key),
        "new_key": new_key,
        "rotated_at": iso(rt.clock()),
    }


@router.get("/v1/stats")
async def get_stats(
    account: CreditsAccount, rt: RuntimeDep, days: int = Query(30, ge=1, le=stats.MAX_DAYS)
) -> dict:
    return await stats.account_stats(rt, account.id, days)

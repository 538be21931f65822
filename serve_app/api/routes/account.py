"""The calling account's balance."""

from __future__ import annotations

from fastapi import APIRouter

from serve_app import credits
from serve_app.api.deps import CurrentAccount, RuntimeDep

router = APIRouter(tags=["account"])


@router.get("/v1/credits")
async def get_credits(account: CurrentAccount, rt: RuntimeDep) -> dict:
    balance = await credits.balance(rt, account.id)
    return {
        "ok": True,
        "account_id": account.id,
        "user_type": account.plan,
        "credits": {"total": balance.available, "held": balance.held},
    }

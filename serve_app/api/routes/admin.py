"""Admin API: behind the admin token, never a customer key."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from serve_app.api.deps import AdminOnly, RuntimeDep
from serve_app.billing import accounts, credits, ledger
from serve_app.core.clock import iso
from serve_app.core.errors import AccountNotFound, InvalidParameter
from serve_app.core.runtime import Runtime

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminOnly])


class NewAccount(BaseModel):
    credits: int = Field(0, ge=0, le=1_000_000_000, description="permanent (extra) credits")
    plan: str = "free"


class PlanChange(BaseModel):
    plan: str


class Grant(BaseModel):
    amount: int = Field(..., gt=0, le=1_000_000_000)
    bucket: Literal["sub", "extra"] = "extra"
    expires_at: datetime | None = Field(None, description="sub only; default 30 days")
    expires_in_days: float | None = Field(None, gt=0, le=3650)
    note: str = Field("", max_length=200)


def _check_plan(rt: Runtime, plan: str) -> None:
    if not rt.plans.exists(plan):
        raise InvalidParameter(f"Unknown plan {plan!r}; see configs/plans.yaml.")


async def _account(rt: Runtime, account_id: str) -> dict:
    try:
        return await accounts.get(rt, account_id)
    except accounts.AccountMissing as exc:
        raise AccountNotFound(f"No account {account_id!r}.") from exc


async def _view(rt: Runtime, account_id: str) -> dict:
    account = await _account(rt, account_id)
    balance = await credits.balance(rt, account_id, account["plan"])
    return {
        "ok": True,
        "account_id": account_id,
        "plan": account["plan"],
        "locked": account.get("locked") == "1",
        "created_at": iso(account.get("created_at")),
        "webhook_url": account.get("webhook_url"),  # never its secret
        "credits": balance.buckets(),
        "held": balance.held,
    }


@router.post("/accounts", status_code=201)
async def create_account(body: NewAccount, rt: RuntimeDep) -> dict:
    _check_plan(rt, body.plan)
    account_id, api_key = await accounts.create(rt, body.credits, body.plan)
    return {
        "ok": True,
        "account_id": account_id,
        "api_key": api_key,
        "plan": body.plan,
        "credits": body.credits,
    }


@router.get("/accounts/{account_id}")
async def get_account(account_id: str, rt: RuntimeDep) -> dict:
    return await _view(rt, account_id)


@router.post("/accounts/{account_id}/lock")
async def lock_account(account_id: str, rt: RuntimeDep) -> dict:
    await _account(rt, account_id)
    await accounts.update(rt, account_id, locked=1)
    return await _view(rt, account_id)


@router.post("/accounts/{account_id}/unlock")
async def unlock_account(account_id: str, rt: RuntimeDep) -> dict:
    await _account(rt, account_id)
    await accounts.update(rt, account_id, locked=0)
    return await _view(rt, account_id)


@router.put("/accounts/{account_id}/plan")
async def change_plan(account_id: str, body: PlanChange, rt: RuntimeDep) -> dict:
    _check_plan(rt, body.plan)
    await _account(rt, account_id)
    await accounts.update(rt, account_id, plan=body.plan)
    return await _view(rt, account_id)


@router.post("/accounts/{account_id}/grants", status_code=201)
async def grant_credits(account_id: str, body: Grant, rt: RuntimeDep) -> dict:
    await _account(rt, account_id)
    expires = body.expires_at.timestamp() if body.expires_at else None
    if body.expires_in_days is not None:
        expires = rt.clock() + body.expires_in_days * 86400
    try:
        grant_id = await credits.grant(rt, account_id, body.amount, body.bucket, expires, body.note)
    except credits.InvalidGrant as exc:
        raise InvalidParameter(str(exc)) from exc
    return {**await _view(rt, account_id), "grant_id": grant_id or None}


@router.get("/accounts/{account_id}/ledger")
async def account_ledger(
    account_id: str, rt: RuntimeDep, count: int = Query(100, ge=1, le=1000), before: str = "+"
) -> dict:
    await _account(rt, account_id)
    return {"ok": True, "entries": await ledger.entries(rt, account_id, count, before)}


@router.get("/accounts/{account_id}/audit")
async def audit_account(account_id: str, rt: RuntimeDep) -> dict:
    await _account(rt, account_id)
    return (await ledger.audit(rt, account_id)).as_dict()

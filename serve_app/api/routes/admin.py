"""Admin API: behind the admin token, never a customer key."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from serve_app import accounts
from serve_app.api.deps import AdminOnly, RuntimeDep
from serve_app.errors import InvalidParameter

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminOnly])


class NewAccount(BaseModel):
    credits: int = Field(0, ge=0, le=1_000_000_000)
    plan: str = "free"


@router.post("/accounts", status_code=201)
async def create_account(body: NewAccount, rt: RuntimeDep) -> dict:
    if not rt.plans.exists(body.plan):
        raise InvalidParameter(f"Unknown plan {body.plan!r}; see configs/plans.yaml.")
    account_id, api_key = await accounts.create(rt, body.credits, body.plan)
    return {
        "ok": True,
        "account_id": account_id,
        "api_key": api_key,
        "plan": body.plan,
        "credits": body.credits,
    }

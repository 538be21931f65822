"""The account's webhook: where job.done / job.failed events go, and how they went."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from serve_app.api.deps import RuntimeDep, WebhookAccount
from serve_app.webhooks import registration

router = APIRouter(tags=["webhooks"])


class WebhookSettings(BaseModel):
    url: str = Field(..., description='http(s) URL; "" removes the webhook')
    secret: str | None = Field(None, description="signing secret; generated when omitted")


@router.put("/v1/webhook")
async def put_webhook(body: WebhookSettings, account: WebhookAccount, rt: RuntimeDep) -> dict:
    """Deliveries are signed (Standard Webhooks: webhook-id, webhook-timestamp,
    webhook-signature); verify them with `photoserve.webhooks.verify`."""
    return await registration.register(rt, account.id, body.url.strip(), body.secret)


@router.get("/v1/webhook")
async def get_webhook(account: WebhookAccount, rt: RuntimeDep) -> dict:
    return await registration.current(rt, account.id)


@router.get("/v1/webhook/deliveries")
async def get_deliveries(
    account: WebhookAccount, rt: RuntimeDep, count: int = Query(50, ge=1, le=100)
) -> dict:
    return {"ok": True, "deliveries": await registration.deliveries(rt, account.id, count)}

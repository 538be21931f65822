"""The calling account's client credentials (Perfect Corp's client/auth): create one (its
secret is shown once), list them, revoke one (its access tokens die with it)."""

from __future__ import annotations

from fastapi import APIRouter

from serve_app.api.deps import CurrentAccount, RuntimeDep
from serve_app.billing import clients
from serve_app.core.clock import iso
from serve_app.core.errors import InvalidClient

router = APIRouter(tags=["account"])


@router.post("/v1/client-credentials", status_code=201)
async def create_client(account: CurrentAccount, rt: RuntimeDep) -> dict:
    """`client_secret`: the RSA-2048 public key (X.509 SubjectPublicKeyInfo, DER, base64)
    a Perfect Corp client encrypts its id_token with. Shown this once."""
    client_id, secret = await clients.create(rt, account.id)
    return {"ok": True, "client_id": client_id, "client_secret": secret}


@router.get("/v1/client-credentials")
async def list_clients(account: CurrentAccount, rt: RuntimeDep) -> dict:
    found = await clients.listed(rt, account.id)
    return {
        "ok": True,
        "clients": [{"client_id": c.client_id, "created_at": iso(c.created_at)} for c in found],
    }


@router.delete("/v1/client-credentials/{client_id}")
async def revoke_client(client_id: str, account: CurrentAccount, rt: RuntimeDep) -> dict:
    if not await clients.revoke(rt, account.id, client_id):
        raise InvalidClient("No such client_id on this account.")
    return {"ok": True, "client_id": client_id, "revoked": True}

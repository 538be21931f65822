"""The admin API: lock/unlock, plans, grants, ledger, audit."""

from __future__ import annotations

import pytest

from tests.helpers.http import assert_error
from tests.helpers.runtime import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def customer(client):
    response = await client.post(
        "/admin/accounts", headers=ADMIN, json={"credits": 10, "plan": "free"}
    )
    body = response.json()
    return body["account_id"], {"x-key": body["api_key"]}


async def test_lock_and_unlock(client, customer):
    account_id, headers = customer
    locked = await client.post(f"/admin/accounts/{account_id}/lock", headers=ADMIN)
    assert locked.json()["locked"] is True
    assert_error(await client.get("/v1/credits", headers=headers), 401, "invalid_key")
    await client.post(f"/admin/accounts/{account_id}/unlock", headers=ADMIN)
    assert (await client.get("/v1/credits", headers=headers)).status_code == 200


async def test_change_plan(client, customer):
    account_id, headers = customer
    response = await client.put(
        f"/admin/accounts/{account_id}/plan", headers=ADMIN, json={"plan": "api-yearly"}
    )
    assert response.json()["plan"] == "api-yearly"
    assert (await client.get("/v1/credits", headers=headers)).json()["user_type"] == "api-yearly"
    bad = await client.put(
        f"/admin/accounts/{account_id}/plan", headers=ADMIN, json={"plan": "gold"}
    )
    assert_error(bad, 400, "invalid_parameter")


async def test_grants_ledger_and_audit(client, customer):
    account_id, _ = customer
    sub = await client.post(
        f"/admin/accounts/{account_id}/grants",
        headers=ADMIN,
        json={"amount": 300, "bucket": "sub", "expires_in_days": 30, "note": "api-monthly"},
    )
    assert sub.status_code == 201 and sub.json()["grant_id"].startswith("g")
    assert sub.json()["credits"] == {"sub": 300, "extra": 10, "free_today": 3, "total": 313}
    extra = await client.post(
        f"/admin/accounts/{account_id}/grants", headers=ADMIN, json={"amount": 5}
    )
    assert extra.json()["credits"]["extra"] == 15 and extra.json()["grant_id"] is None
    entries = (await client.get(f"/admin/accounts/{account_id}/ledger", headers=ADMIN)).json()[
        "entries"
    ]
    assert [(e["type"], e["bucket"], e["amount"]) for e in entries] == [
        ("grant", "extra", "5"),
        ("grant", "free_today", "3"),  # today's quota, granted when the balance was first read
        ("grant", "sub", "300"),
        ("grant", "extra", "10"),
    ]
    audit = (await client.get(f"/admin/accounts/{account_id}/audit", headers=ADMIN)).json()
    assert audit["ok"] is True and audit["available"] == 318


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0},
        {"amount": 5, "bucket": "gold"},
        {"amount": 5, "bucket": "extra", "expires_in_days": 3},
        {"amount": 5, "bucket": "sub", "expires_at": "2001-01-01T00:00:00Z"},
    ],
)
async def test_invalid_grants(client, customer, body):
    account_id, _ = customer
    assert_error(
        await client.post(f"/admin/accounts/{account_id}/grants", headers=ADMIN, json=body),
        400,
        "invalid_parameter",
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", ""), ("POST", "/lock"), ("POST", "/unlock"), ("GET", "/ledger"), ("GET", "/audit")],
)
async def test_unknown_account_is_404(client, method, path):
    response = await client.request(method, f"/admin/accounts/acct_nope{path}", headers=ADMIN)
    assert_error(response, 404, "account_not_found")


async def test_admin_routes_refuse_customer_keys(client, customer):
    account_id, headers = customer
    assert_error(
        await client.get(
            f"/admin/accounts/{account_id}", headers={"Authorization": f"Bearer {headers['x-key']}"}
        ),
        401,
        "invalid_admin_token",
    )


async def test_the_account_view_shows_no_secret(client, customer):
    account_id, headers = customer
    body = {"url": "https://93.184.215.14/hook", "secret": "s3cret-of-the-customer"}
    assert (await client.put("/v1/webhook", headers=headers, json=body)).status_code == 200
    view = await client.get(f"/admin/accounts/{account_id}", headers=ADMIN)
    assert view.json()["webhook_url"] == body["url"]
    assert view.json()["created_at"].startswith("20")
    assert "s3cret" not in view.text and "key_hash" not in view.text

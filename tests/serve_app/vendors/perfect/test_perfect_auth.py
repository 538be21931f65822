"""Perfect Corp's client credentials: created natively with an API key, exchanged at
/s2s/v1.0/client/auth by a client written from Perfect's docs alone (RSA, PKCS#1 v1.5,
X.509 SubjectPublicKeyInfo in base64), then used as a Bearer token; every refusal with its
status, and no secret kept in the clear."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

from serve_app.billing import accounts, credits
from tests.helpers.http import app_client

AUTH = "/s2s/v1.0/client/auth"
CREDIT = "/s2s/v1.0/client/credit"


def id_token(client_id: str, client_secret: str, timestamp_ms: int) -> str:
    """What Perfect's sample clients do: encrypt the query string with the secret."""
    public = load_der_public_key(base64.b64decode(client_secret))
    message = f"client_id={client_id}&timestamp={timestamp_ms}".encode()
    return base64.b64encode(public.encrypt(message, padding.PKCS1v15())).decode()


@pytest.fixture
async def credentials(client, auth):
    response = await client.post("/v1/client-credentials", headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    return body["client_id"], body["client_secret"]


def now_ms(rt) -> int:
    return int(rt.clock() * 1000)


async def token_for(client, rt, client_id, secret, skew_ms=0):
    body = {"client_id": client_id, "id_token": id_token(client_id, secret, now_ms(rt) + skew_ms)}
    return await client.post(AUTH, json=body)


def assert_perfect_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["error_code"] == code and body["error"]


async def test_credentials_auth_and_credit(client, rt, account, credentials):
    client_id, secret = credentials
    assert load_der_public_key(base64.b64decode(secret)).key_size == 2048
    response = await token_for(client, rt, client_id, secret)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == 200 and body["result"]["access_token"]
    bearer = {"Authorization": f"Bearer {body['result']['access_token']}"}
    credit = await client.get(CREDIT, headers=bearer)
    assert credit.status_code == 200, credit.text
    amounts = credit.json()["results"]
    total = (await credits.balance(rt, account[0], "enterprise")).total
    assert sum(entry["amount"] for entry in amounts) == total == 100


async def test_an_id_token_works_once_and_only_while_fresh(client, rt, credentials):
    client_id, secret = credentials
    token = id_token(client_id, secret, now_ms(rt))
    first = await client.post(AUTH, json={"client_id": client_id, "id_token": token})
    assert first.status_code == 200
    again = await client.post(AUTH, json={"client_id": client_id, "id_token": token})
    assert_perfect_error(again, 401, "invalid_id_token")
    for skew in (-6 * 60_000, 6 * 60_000):  # more than 5 minutes either way
        assert_perfect_error(
            await token_for(client, rt, client_id, secret, skew), 401, "invalid_id_token"
        )
    assert (await token_for(client, rt, client_id, secret, -4 * 60_000)).status_code == 200


async def test_bad_id_tokens_are_refused_not_crashed_on(client, rt, credentials):
    client_id, secret = credentials
    other_id, other_secret = "someone-else", secret
    wrong_claim = id_token(other_id, other_secret, now_ms(rt))  # made for another client
    cases = [wrong_claim, "not base64!", base64.b64encode(b"random bytes").decode(), ""]
    for token in cases:
        response = await client.post(AUTH, json={"client_id": client_id, "id_token": token})
        assert_perfect_error(response, 401, "invalid_id_token")
    unknown = await client.post(AUTH, json={"client_id": "nobody", "id_token": wrong_claim})
    assert_perfect_error(unknown, 401, "invalid_client")
    assert_perfect_error(
        await client.post(AUTH, json={"client_id": client_id}), 400, "invalid_parameter"
    )


async def test_revoking_kills_the_client_and_its_tokens(client, rt, auth, credentials):
    client_id, secret = credentials
    token = (await token_for(client, rt, client_id, secret)).json()["result"]["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    listed = (await client.get("/v1/client-credentials", headers=auth)).json()["clients"]
    assert [c["client_id"] for c in listed] == [client_id] and "client_secret" not in listed[0]
    _, stranger_key = await accounts.create(rt, 1, "free")
    stranger = {"Authorization": f"Bearer {stranger_key}"}
    refused = await client.delete(f"/v1/client-credentials/{client_id}", headers=stranger)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert (await client.get(CREDIT, headers=bearer)).status_code == 200  # still alive
    revoked = await client.delete(f"/v1/client-credentials/{client_id}", headers=auth)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert_perfect_error(await client.get(CREDIT, headers=bearer), 401, "invalid_access_token")
    assert_perfect_error(await token_for(client, rt, client_id, secret), 401, "invalid_client")


async def test_tokens_last_two_hours_and_no_secret_is_kept_in_the_clear(client, rt, credentials):
    client_id, secret = credentials
    token = (await token_for(client, rt, client_id, secret)).json()["result"]["access_token"]
    stored = {}
    async for key in rt.redis.scan_iter(f"{rt.keys.prefix}*"):
        kind = await rt.redis.type(key)
        stored[key] = (
            await (rt.redis.hgetall(key) if kind == "hash" else rt.redis.get(key))
            if kind in ("hash", "string")
            else None
        )
    dump = repr(stored)
    assert token not in dump and secret not in dump
    record = await rt.redis.hgetall(rt.keys.client(client_id))
    assert record["key"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    access = [k for k in stored if k.startswith(f"{rt.keys.prefix}access:")]
    assert len(access) == 1 and 7190 <= await rt.redis.ttl(access[0]) <= 7200


async def test_an_expired_token_is_refused(client, rt, credentials):
    import asyncio

    client_id, secret = credentials
    token = (await token_for(client, rt, client_id, secret)).json()["result"]["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get(CREDIT, headers=bearer)).status_code == 200
    async for key in rt.redis.scan_iter(f"{rt.keys.prefix}access:*"):
        await rt.redis.pexpire(key, 200)  # its two hours, shortened: what Redis does at the end
    await asyncio.sleep(0.3)
    assert_perfect_error(await client.get(CREDIT, headers=bearer), 401, "invalid_access_token")


async def test_missing_or_wrong_bearer(client):
    assert_perfect_error(await client.get(CREDIT), 401, "invalid_access_token")
    wrong = {"Authorization": "Bearer pat_nope"}
    assert_perfect_error(await client.get(CREDIT, headers=wrong), 401, "invalid_access_token")


def from_ip(rt, ip: str):
    return app_client(rt, client=(ip, 40000))


async def test_100_per_minute_per_token_and_100_per_5_minutes_per_ip(rt, credentials):
    client_id, secret = credentials
    async with from_ip(rt, "10.0.0.1") as first, from_ip(rt, "10.0.0.2") as second:
        token = (await token_for(first, rt, client_id, secret)).json()["result"]["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        for caller in (first, second):  # 99 + 1 from one address, 50 from the other
            for _ in range(50):
                assert (await caller.get(CREDIT, headers=bearer)).status_code == 200
        limited = await second.get(CREDIT, headers=bearer)  # the token's 101st in a minute
        assert_perfect_error(limited, 429, "rate_limit_exceeded")
        assert int(limited.headers["Retry-After"]) >= 1
        for _ in range(49):  # the first address: 51 so far, then auth calls up to 100
            await first.post(AUTH, json={"client_id": "nobody", "id_token": "x"})
        ip_limited = await first.post(AUTH, json={"client_id": "nobody", "id_token": "x"})
        assert_perfect_error(ip_limited, 429, "rate_limit_exceeded")

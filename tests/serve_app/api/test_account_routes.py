"""Balance, key check, key rotation, statistics and tenant isolation through the API."""

from __future__ import annotations

from loadtest.photos import photo_bytes
from serve_app.billing import accounts, credits
from serve_app.engine import jobs
from serve_app.engine.jobs import JobStatus
from tests.helpers.http import assert_error

PNG = photo_bytes(size=32)


async def upload(client, headers, **data):
    response = await client.post(
        "/v1/upscale", headers=headers, files={"image": ("a.png", PNG)}, data=data
    )
    assert response.status_code == 202, response.text
    return response.json()


async def test_credits_in_pnd_shape(client, rt):
    account_id, key = await accounts.create(rt, 50, "free")
    await credits.grant(rt, account_id, 20, "sub", rt.clock() + 86400 * 10)
    await upload(client, {"x-key": key}, size="2K")  # 2 credits from free_today
    body = (await client.get("/v1/credits", headers={"x-key": key})).json()
    assert body["user_type"] == "free"
    assert body["credits"] == {"sub": 20, "extra": 50, "free_today": 1, "total": 71}
    assert body["today"] == {"used": 2, "limit": 3} and body["held"] == 2


async def test_key_check(client, auth):
    body = (await client.get("/v1/key-check", headers=auth)).json()
    assert body == {"ok": True, "valid": True, "plan": "enterprise", "tokens_remaining": 100}


async def test_rotation_invalidates_the_old_key_at_once(client, rt):
    account_id, old = await accounts.create(rt, 5, "free")
    response = await client.post("/v1/keys/rotate", headers={"x-key": old})
    assert response.status_code == 200
    body = response.json()
    new = body["new_key"]
    assert new != old and new.startswith("ps_")
    assert body["old_key_prefix"] == f"{old[:7]}...{old[-4:]}" and body["rotated_at"]
    assert_error(await client.get("/v1/credits", headers={"x-key": old}), 401, "invalid_key")
    assert (await client.get("/v1/credits", headers={"x-key": new})).status_code == 200
    assert (await accounts.by_key(rt, new)).id == account_id


async def test_rotation_keeps_jobs_and_credits(client, rt):
    _, old = await accounts.create(rt, 5, "enterprise")
    job_id = (await upload(client, {"x-key": old}))["job_id"]
    new = (await client.post("/v1/keys/rotate", headers={"x-key": old})).json()["new_key"]
    assert (await client.get(f"/v1/jobs/{job_id}", headers={"x-key": new})).status_code == 200
    assert (await client.get("/v1/credits", headers={"x-key": new})).json()["credits"]["total"] == 4


async def test_locked_account_and_unlock(client, rt):
    account_id, key = await accounts.create(rt, 5, "free")
    await accounts.update(rt, account_id, locked=1)
    body = assert_error(
        await client.get("/v1/key-check", headers={"x-key": key}), 401, "invalid_key"
    )
    assert body["detail"] == "Invalid API key or account is locked"
    await accounts.update(rt, account_id, locked=0)
    assert (await client.get("/v1/key-check", headers={"x-key": key})).status_code == 200


async def test_stored_hash_mismatch_is_refused(rt):
    account_id, key = await accounts.create(rt, 5, "free")
    await rt.redis.hset(rt.keys.account(account_id), "key_hash", "0" * 64)
    assert await accounts.by_key(rt, key) is None


async def test_stats(client, rt, auth, account):
    first = await upload(client, auth, size="HD")
    second = await upload(client, auth, scale=4)
    third = await upload(client, auth, size="4K")
    stored = await jobs.load(rt, first["job_id"])
    await jobs.transition(rt, first["job_id"], {JobStatus.QUEUED}, JobStatus.PROCESSING)
    await jobs.complete(rt, stored)
    await jobs.fail(rt, await jobs.load(rt, second["job_id"]), "timeout", "x")
    body = (await client.get("/v1/stats?days=7", headers=auth)).json()
    assert body["period_days"] == 7 and len(body["daily"]) == 7
    assert body["totals"] == {"all": 3, "done": 1, "error": 1, "queued": 1, "credits_used": 1}
    assert body["by_operation"] == {"upscale": 3}
    assert body["by_size"] == {"HD": 1, "x4": 1, "4K": 1}
    assert body["daily"][-1]["count"] == 3 and body["daily"][-1]["credits"] == 1
    assert [j["job_id"] for j in body["recent"]] == [
        third["job_id"],
        second["job_id"],
        first["job_id"],
    ]
    assert_error(await client.get("/v1/stats?days=91", headers=auth), 400, "invalid_parameter")


async def test_stats_are_per_account(client, rt, auth):
    await upload(client, auth)
    _, other = await accounts.create(rt, 5, "free")
    body = (await client.get("/v1/stats", headers={"x-key": other})).json()
    assert body["totals"]["all"] == 0 and body["recent"] == []


async def test_deducted_this_call_only_once(client, rt, auth):
    job_id = (await upload(client, auth))["job_id"]
    first = (await client.get(f"/v1/jobs/{job_id}", headers=auth)).json()
    assert "deducted_this_call" not in first
    await jobs.transition(rt, job_id, {JobStatus.QUEUED}, JobStatus.PROCESSING)
    await jobs.complete(rt, await jobs.load(rt, job_id))
    polls = [(await client.get(f"/v1/jobs/{job_id}", headers=auth)).json() for _ in range(3)]
    assert [p["deducted_this_call"] for p in polls] == [True, False, False]

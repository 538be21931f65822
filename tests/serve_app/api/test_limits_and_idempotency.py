"""Rate-limit headers and 429s, the per-IP throttle, and Idempotency-Key replays."""

from __future__ import annotations

import asyncio

from loadtest.photos import photo_bytes
from serve_app.billing import accounts, idempotency
from serve_app.core.plans import Plan
from serve_app.engine import jobs
from tests.helpers.http import assert_error
from tests.helpers.runtime import money

PNG = photo_bytes(size=32)
RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit-policy",
    "ratelimit",
)


async def test_every_limited_response_carries_the_headers(client, rt):
    _, key = await accounts.create(rt, 0, "free")  # 3 free credits
    headers = {"x-key": key}
    ok = await client.post("/v1/upscale", headers=headers, files={"image": ("a.png", PNG)})
    broke = await client.post(
        "/v1/upscale", headers=headers, files={"image": ("a.png", PNG)}, data={"size": "4K"}
    )
    bad = await client.post("/v1/upscale", headers=headers, json={"no": "image"})
    for response in (ok, broke, bad):
        assert all(h in response.headers for h in RATE_HEADERS), response.headers
        assert response.headers["x-ratelimit-limit"] == "10"
    assert [r.headers["x-ratelimit-remaining"] for r in (ok, broke, bad)] == ["9", "8", "7"]
    assert ok.headers["ratelimit-policy"] == '"upload";q=10;w=60'
    status = await client.get("/v1/credits", headers=headers)
    assert status.headers["x-ratelimit-limit"] == "30"


async def test_429_with_retry_after_and_pnd_body(client, rt):
    _, key = await accounts.create(rt, 0, "free")
    for _ in range(3):  # free: rotate 3/min
        key = (await client.post("/v1/keys/rotate", headers={"x-key": key})).json()["new_key"]
    response = await client.post("/v1/keys/rotate", headers={"x-key": key})
    body = assert_error(response, 429, "rate_limit_exceeded")
    assert (body["limit"], body["tier"]) == (3, "free") and body["reset_at"] > 0
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["x-ratelimit-remaining"] == "0"


async def test_limits_follow_the_plan(client, rt):
    account_id, key = await accounts.create(rt, 0, "free")
    await accounts.update(rt, account_id, plan="api-monthly")
    response = await client.get("/v1/credits", headers={"x-key": key})
    assert response.headers["x-ratelimit-limit"] == "60"


async def test_failed_authentication_is_throttled_per_ip(client, rt):
    rt.plans.anonymous_limits["auth"] = 5
    try:
        codes = [
            (await client.get("/v1/credits", headers={"x-key": f"ps_guess{i}"})).status_code
            for i in range(7)
        ]
        assert codes == [401] * 5 + [429] * 2
        assert_error(await client.get("/v1/credits"), 429, "rate_limit_exceeded")
    finally:
        rt.plans.anonymous_limits["auth"] = 30


async def idem_post(client, headers, key, **data):
    return await client.post(
        "/v1/upscale",
        headers={**headers, "Idempotency-Key": key},
        files={"image": ("a.png", PNG)},
        data=data,
    )


async def test_same_key_same_payload_replays_the_first_job(client, rt, auth, account):
    first = await idem_post(client, auth, "order-1", scale="2")
    again = await idem_post(client, auth, "order-1", scale="2")
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await money(rt, account[0]) == (99, 1)
    assert await rt.redis.xlen(rt.keys.stream("upscale")) == 1


async def test_same_key_different_payload_is_422(client, auth):
    await idem_post(client, auth, "order-2", scale="2")
    assert_error(await idem_post(client, auth, "order-2", scale="4"), 422, "idempotency_key_reused")


async def test_same_key_while_first_is_in_flight_is_409(client, rt, auth, account):
    fingerprint = idempotency.fingerprint("/v1/upscale", {"scale": "2"}, PNG)
    claim = await idempotency.claim(rt, account[0], "order-3", fingerprint)
    assert claim is not None and claim.replay is None
    response = await idem_post(client, auth, "order-3", scale="2")
    assert_error(response, 409, "idempotency_in_progress")
    assert response.headers["retry-after"] == "1"


async def test_keys_are_per_account(client, rt, auth):
    _, other = await accounts.create(rt, 5, "enterprise")
    one = await idem_post(client, auth, "shared", scale="2")
    two = await idem_post(client, {"x-key": other}, "shared", scale="2")
    assert one.json()["job_id"] != two.json()["job_id"]


async def test_a_failed_request_frees_its_key(client, rt):
    account_id, key = await accounts.create(rt, 0, "enterprise")
    headers = {"x-key": key}
    assert_error(await idem_post(client, headers, "order-4", scale="2"), 402, "out_of_credits")
    from serve_app.billing import credits

    await credits.grant(rt, account_id, 1)
    assert (await idem_post(client, headers, "order-4", scale="2")).status_code == 202


async def test_concurrent_duplicates_make_one_job(client, rt, auth, account):
    responses = await asyncio.gather(
        *[idem_post(client, auth, "burst", scale="2") for _ in range(20)]
    )
    accepted = {r.json()["job_id"] for r in responses if r.status_code == 202}
    assert len(accepted) == 1
    assert {r.status_code for r in responses} <= {202, 409}
    assert await money(rt, account[0]) == (99, 1)


def capped(rt, cap: int) -> str:
    """A plan allowing `cap` jobs in flight (and submits enough to reach it)."""
    rt.plans.plans["capped"] = Plan("capped", rate_limits={"upload": 1000}, max_in_flight=cap)
    return "capped"


async def submit_png(client, key):
    return await client.post("/v1/upscale", headers={"x-key": key}, files={"image": ("a.png", PNG)})


async def test_jobs_in_flight_are_capped_per_account_and_free_again_when_one_ends(client, rt):
    _, key = await accounts.create(rt, 100, capped(rt, 3))
    _, other = await accounts.create(rt, 100, "capped")
    first = [await submit_png(client, key) for _ in range(3)]
    assert [r.status_code for r in first] == [202] * 3
    held = (await client.get("/v1/credits", headers={"x-key": key})).json()["held"]
    body = assert_error(await submit_png(client, key), 429, "too_many_jobs")
    assert (body["in_flight"], body["limit"]) == (3, 3)
    after = (await client.get("/v1/credits", headers={"x-key": key})).json()
    assert after["held"] == held and after["credits"]["total"] == 100 - held  # nothing moved
    assert (await submit_png(client, other)).status_code == 202  # another tenant is not blocked
    ended = await jobs.load(rt, first[0].json()["job_id"])
    assert await jobs.fail(rt, ended, "error_inference", "gave up")
    assert (await submit_png(client, key)).status_code == 202


async def test_concurrent_submits_never_overshoot_the_cap(client, rt):
    account_id, key = await accounts.create(rt, 100, capped(rt, 4))
    answers = await asyncio.gather(*(submit_png(client, key) for _ in range(12)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] * 4 + [429] * 8
    assert await rt.redis.zcard(rt.keys.jobs(account_id)) == 4


async def test_requests_without_credentials_are_limited_per_ip(client, rt, auth):
    rt.plans.anonymous_limits["public"] = 3
    try:
        codes = [(await client.get("/v1/styles/hair-style")).status_code for _ in range(4)]
        page = await client.get("/")
        keyed = await client.get("/v1/credits", headers=auth)
        probes = [(await client.get("/healthz")).status_code for _ in range(5)]
    finally:
        rt.plans.anonymous_limits["public"] = 300
    assert codes == [200, 200, 200, 429]
    body = assert_error(page, 429, "rate_limit_exceeded")
    assert body["tier"] == "anonymous" and 1 <= int(page.headers["retry-after"]) <= 60
    assert keyed.status_code == 200  # a key is limited by its plan, not its IP
    assert probes == [200] * 5


async def styles_as(client, forwarded: str) -> int:
    headers = {"X-Forwarded-For": forwarded}
    return (await client.get("/v1/styles/hair-style", headers=headers)).status_code


async def test_forwarded_addresses_count_only_behind_trusted_proxies(client, rt):
    """Without trusted hops a caller cannot escape the per-IP limit by writing its own
    X-Forwarded-For; with one (a load balancer that appends the caller), each caller has its
    own count, and what a caller writes further left is not believed."""
    rt.plans.anonymous_limits["public"] = 2
    try:
        spoofed = [await styles_as(client, f"198.51.100.{i}") for i in range(3)]
        rt.settings.trusted_proxy_hops = 1
        first = [await styles_as(client, f"10.9.9.{i}, 203.0.113.7") for i in range(3)]
        second = await styles_as(client, "203.0.113.8")
    finally:
        rt.plans.anonymous_limits["public"] = 300
        rt.settings.trusted_proxy_hops = 0
    assert spoofed == [200, 200, 429]
    assert first == [200, 200, 429] and second == 200


def test_the_client_address_is_the_outermost_trusted_hops_view():
    from serve_app.api.addresses import client_address

    scope = {
        "client": ("127.0.0.1", 5000),
        "headers": [(b"x-forwarded-for", b"6.6.6.6, 1.2.3.4"), (b"x-forwarded-for", b"5.6.7.8")],
    }
    assert client_address(scope, 0) == "127.0.0.1"
    assert client_address(scope, 1) == "5.6.7.8"
    assert client_address(scope, 2) == "1.2.3.4"
    assert client_address({**scope, "headers": []}, 1) == "127.0.0.1"

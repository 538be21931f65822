"""The sliding window itself, with the clock moved by hand."""

from __future__ import annotations

from serve_app.billing import ratelimit


async def test_window_counts_and_slides(rt):
    now = 1_800_000_000.0
    rt.clock = lambda: now
    states = [await ratelimit.hit(rt, "acct", "upload", 3, "free") for _ in range(4)]
    assert [s.allowed for s in states] == [True, True, True, False]
    assert [s.remaining for s in states] == [2, 1, 0, 0]
    assert states[-1].retry_after == 60 and states[-1].reset_at == int(now) + 60
    now += 30
    assert not (await ratelimit.hit(rt, "acct", "upload", 3, "free")).allowed
    now += 30.001
    state = await ratelimit.hit(rt, "acct", "upload", 3, "free")
    assert state.allowed and state.remaining == 2  # the first three slid out; this one is in


async def test_classes_and_subjects_are_separate(rt):
    assert (await ratelimit.hit(rt, "a", "upload", 1, "free")).allowed
    assert (await ratelimit.hit(rt, "a", "status", 1, "free")).allowed
    assert (await ratelimit.hit(rt, "b", "upload", 1, "free")).allowed
    assert not (await ratelimit.hit(rt, "a", "upload", 1, "free")).allowed


def test_headers_follow_both_conventions():
    state = ratelimit.RateState("upload", "free", 10, 7, 2_000_000_000, 0, True)
    headers = state.headers()
    assert headers["X-RateLimit-Limit"] == "10" and headers["X-RateLimit-Remaining"] == "7"
    assert headers["X-RateLimit-Reset"] == "2000000000"
    assert headers["RateLimit-Policy"] == '"upload";q=10;w=60'
    assert headers["RateLimit"].startswith('"upload";r=7;t=')

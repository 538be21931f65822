"""Sliding 60 s windows per account and endpoint class (limits from the plan), and per client
IP for requests that fail authentication. One Lua call per check (lua/ratelimit.lua)."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from serve_app.core import clock
from serve_app.core.errors import RateLimitExceeded
from serve_app.core.runtime import Runtime

WINDOW_S = 60


@dataclass(frozen=True)
class RateState:
    rate_class: str
    tier: str
    limit: int
    remaining: int
    reset_at: int  # epoch seconds when the oldest request leaves the window
    retry_after: int  # seconds until one more request is allowed (0 when allowed)
    allowed: bool

    def headers(self) -> dict[str, str]:
        reset_in = max(0, self.reset_at - int(clock.now()))
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
            "RateLimit-Policy": f'"{self.rate_class}";q={self.limit};w={WINDOW_S}',
            "RateLimit": f'"{self.rate_class}";r={self.remaining};t={reset_in}',
        }


def member(now_ms: int) -> str:
    return f"{now_ms}-{secrets.token_hex(4)}"


async def hit(
    rt: Runtime, subject: str, rate_class: str, limit: int, tier: str, window_s: int = WINDOW_S
) -> RateState:
    now_ms = clock.ms(rt.clock())
    allowed, count, oldest = await rt.scripts.ratelimit(
        keys=[rt.keys.rate(subject, rate_class)],
        args=[now_ms, window_s * 1000, limit, member(now_ms)],
    )
    return state(rate_class, tier, limit, now_ms, allowed, count, oldest, window_s)


def state(rate_class, tier, limit, now_ms, allowed, count, oldest, window_s=WINDOW_S) -> RateState:
    """A window's state from what the Lua check returned."""
    reset_ms = int(float(oldest)) + window_s * 1000
    reset_at = math.ceil(reset_ms / 1000)
    retry_after = 0 if allowed else max(1, math.ceil((reset_ms - now_ms) / 1000))
    remaining = max(0, limit - int(count))
    return RateState(rate_class, tier, limit, remaining, reset_at, retry_after, bool(allowed))


def exceeded(state: RateState) -> RateLimitExceeded:
    return RateLimitExceeded(
        f"Tier '{state.tier}' limit for '{state.rate_class}': {state.limit}/min. "
        f"Retry in {state.retry_after} s.",
        headers={**state.headers(), "Retry-After": str(state.retry_after)},
        limit=state.limit,
        reset_at=state.reset_at,
        tier=state.tier,
    )

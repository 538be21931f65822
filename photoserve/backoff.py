"""When to try a request again, and how long to wait first.

Every submit carries an Idempotency-Key, so a retry never makes a second job: connection
errors, 429, 502/503/504 (not 503 `model_unavailable`: weights do not appear by waiting)
and 409 `idempotency_in_progress` (the first attempt is still being accepted) are tried
again, after the server's Retry-After when it sends one, else an exponential backoff with
full jitter, at most `attempts` times in all."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Backoff:
    attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before attempt `attempt + 1` (`attempt` counts from 0)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_s)
        return random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))

    def allows(self, attempt: int) -> bool:
        return attempt + 1 < self.attempts


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (the HTTP-date form is not used by photoserve)."""
    value = response.headers.get("retry-after", "")
    try:
        return float(value)
    except ValueError:
        return None


def retryable(response: httpx.Response) -> bool:
    status = response.status_code
    if status == 503:
        return _code(response) != "model_unavailable"
    if status == 409:
        return _code(response) == "idempotency_in_progress"
    return status in RETRY_STATUSES


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except (ValueError, AttributeError):
        return ""

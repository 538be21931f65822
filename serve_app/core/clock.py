"""Time in one place. The runtime carries a clock callable, so tests move time instead of
sleeping (daily quotas, expiries, rate windows)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


def now() -> float:
    return time.time()


def ms(ts: float) -> int:
    return int(ts * 1000)


def day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def next_midnight(ts: float) -> float:
    start = datetime.fromtimestamp(ts, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=1)).timestamp()


def iso(ts: float | str | None) -> str | None:
    if ts in (None, ""):
        return None
    moment = datetime.fromtimestamp(float(ts), UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

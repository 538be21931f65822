"""Time in one place, so tests can move it instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    return time.time()


def iso(ts: float | str | None) -> str | None:
    if ts in (None, ""):
        return None
    return (
        datetime.fromtimestamp(float(ts), UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )

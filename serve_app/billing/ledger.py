"""The per-account ledger (a Redis Stream) and the audit that checks it against the balances.

Identities, checked on one consistent snapshot (MULTI):
  granted - expired - captured = available + held
  reserved - released - captured = held
and per job: at most one capture, never both a capture and a release.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from serve_app.core.runtime import Runtime

KINDS = ("grant", "reserve", "capture", "release", "expire")


@dataclass
class Audit:
    account_id: str
    totals: dict[str, int]
    available: int
    held: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "account_id": self.account_id,
            "ok": self.ok,
            "totals": self.totals,
            "available": self.available,
            "held": self.held,
            "problems": self.problems,
        }


async def entries(rt: Runtime, account_id: str, count: int = 100, before: str = "+") -> list[dict]:
    """Newest first."""
    rows = await rt.redis.xrevrange(rt.keys.ledger(account_id), max=before, count=count)
    return [{"id": entry_id, **fields} for entry_id, fields in rows]


async def audit(rt: Runtime, account_id: str) -> Audit:
    c, _, b, ledger_key = rt.keys.credit_keys(account_id)
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.xrange(ledger_key)
        pipe.hgetall(c)
        pipe.hvals(b)
        rows, credits, grant_left = await pipe.execute()
    totals = dict.fromkeys(KINDS, 0)
    captures: Counter[str] = Counter()
    releases: Counter[tuple[str, str, str]] = Counter()
    for _, entry in rows:
        totals[entry["type"]] += int(entry["amount"])
        if entry["type"] == "capture":
            captures[entry["job"]] += 1
        elif entry["type"] == "release":
            releases[(entry["job"], entry["bucket"], entry["grant"])] += 1
    buckets = {
        "free_today": int(credits.get("free_left", 0)),
        "extra": int(credits.get("extra", 0)),
        "sub": sum(int(v) for v in grant_left),
    }
    held = int(credits.get("held", 0))
    result = Audit(account_id, totals, sum(buckets.values()), held)
    _check(result, buckets, captures, releases)
    return result


def _check(result: Audit, buckets: dict[str, int], captures: Counter, releases: Counter) -> None:
    t = result.totals
    expected_total = t["grant"] - t["expire"] - t["capture"]
    if expected_total != result.available + result.held:
        result.problems.append(
            f"granted - expired - captured = {expected_total}, but available + held = "
            f"{result.available + result.held}"
        )
    expected_held = t["reserve"] - t["release"] - t["capture"]
    if expected_held != result.held:
        result.problems.append(
            f"reserved - released - captured = {expected_held}, held = {result.held}"
        )
    for name, value in buckets.items():
        if value < 0:
            result.problems.append(f"bucket {name} is negative: {value}")
    released_jobs = {job for job, _, _ in releases}
    for job, count in captures.items():
        if count > 1:
            result.problems.append(f"job {job} captured {count} times")
        if job in released_jobs:
            result.problems.append(f"job {job} both captured and released")
    for (job, bucket, _), count in releases.items():
        if count > 1:
            result.problems.append(f"job {job} released its {bucket} part {count} times")

"""Usage statistics (PND's /stats shape), from per-day counters the job scripts keep
(`stats:{account}:{day}`, incremented atomically with each submit/done/fail)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from serve_app.core import clock
from serve_app.core.runtime import Runtime

MAX_DAYS = 90
RECENT = 20
_RECENT_FIELDS = ["job_id", "operation", "status", "created_at", "cost", "size_label"]


def days_back(now: float, days: int) -> list[str]:
    today = datetime.fromtimestamp(now, UTC).date()
    return [(today - timedelta(days=i)).isoformat() for i in reversed(range(days))]


async def account_stats(rt: Runtime, account_id: str, days: int) -> dict:
    dates = days_back(rt.clock(), days)
    async with rt.redis.pipeline(transaction=False) as pipe:
        for date in dates:
            pipe.hgetall(rt.keys.stats(account_id, date))
        per_day = await pipe.execute()
    totals: Counter[str] = Counter()
    by_operation: Counter[str] = Counter()
    by_size: Counter[str] = Counter()
    daily = []
    for date, counters in zip(dates, per_day, strict=True):
        values = {name: int(value) for name, value in counters.items()}
        totals.update(
            {k: v for k, v in values.items() if k in ("all", "done", "failed", "credits")}
        )
        by_operation.update({k[3:]: v for k, v in values.items() if k.startswith("op:")})
        by_size.update({k[5:]: v for k, v in values.items() if k.startswith("size:")})
        daily.append(
            {"date": date, "count": values.get("all", 0), "credits": values.get("credits", 0)}
        )
    return {
        "ok": True,
        "period_days": days,
        "totals": {
            "all": totals["all"],
            "done": totals["done"],
            "error": totals["failed"],
            "queued": totals["all"] - totals["done"] - totals["failed"],
            "credits_used": totals["credits"],
        },
        "by_operation": dict(by_operation),
        "by_size": dict(by_size),
        "daily": daily,
        "recent": await recent_jobs(rt, account_id),
    }


async def recent_jobs(
    rt: Runtime, account_id: str, count: int = RECENT, before: float | None = None
) -> list[dict]:
    """The account's newest jobs first, those created before `before` (epoch s) if given;
    each with `created` (epoch s) for the next page."""
    newest = "+inf" if before is None else f"({before}"
    found = await rt.redis.zrevrangebyscore(
        rt.keys.jobs(account_id), newest, "-inf", start=0, num=count, withscores=True
    )
    job_ids = [job_id for job_id, _ in found]
    async with rt.redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hmget(rt.keys.job(job_id), _RECENT_FIELDS)
        rows = await pipe.execute()
    recent = []
    for row in rows:
        job = dict(zip(_RECENT_FIELDS, row, strict=True))
        if job["job_id"] is None:  # expired
            continue
        job["created"] = float(job["created_at"])
        job["created_at"] = clock.iso(job["created_at"])
        job["cost"] = int(job["cost"] or 0)
        job["size"] = job.pop("size_label")
        recent.append(job)
    return recent

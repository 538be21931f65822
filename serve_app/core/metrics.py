"""Prometheus metrics for the whole service, whichever replica is scraped.

Counters and histogram buckets live in one Redis hash (`keys.metrics`) that every process
adds to: the job scripts (jobs and credits, inside the same atomic step as the movement
itself), the dispatcher (latencies), the webhook worker, the gateway (rate-limit rejections)
and the model replicas (batch sizes). Queue gauges are read from the streams at scrape time.
So `/metrics` on any Ingress replica tells the same story, and a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable

from redis.exceptions import RedisError

from serve_app.core.runtime import Runtime

log = logging.getLogger("photoserve.metrics")

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


def bucket(value: float, bounds: Iterable[float]) -> str:
    for bound in bounds:
        if value <= bound:
            return str(bound)
    return "+Inf"


def histogram_fields(name: str, labels: str, value: float, bounds) -> dict[str, float]:
    """The hash fields one observation adds to: its bucket, the sum and the count."""
    return {
        f"h:{name}:{labels}:{bucket(value, bounds)}": 1,
        f"h:{name}:{labels}:sum": value,
        f"h:{name}:{labels}:count": 1,
    }


async def add(rt: Runtime, fields: dict[str, float]) -> None:
    """Best effort: a metric is never worth failing a job or a request for."""
    try:
        async with rt.redis.pipeline(transaction=False) as pipe:
            for field, amount in fields.items():
                if isinstance(amount, int):
                    pipe.hincrby(rt.keys.metrics, field, amount)
                else:
                    pipe.hincrbyfloat(rt.keys.metrics, field, amount)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        log.debug("metrics not recorded: %s", exc)


async def observe_job(rt: Runtime, operation: str, waited: float, processing_s: float) -> None:
    """One finished job: how long it waited in the queue and how long it ran."""
    fields = histogram_fields("job_processing_seconds", operation, processing_s, LATENCY_BUCKETS)
    if waited >= 0:
        fields |= histogram_fields("job_queue_wait_seconds", operation, waited, LATENCY_BUCKETS)
    await add(rt, fields)


async def count(rt: Runtime, name: str, label: str, amount: int = 1) -> None:
    await add(rt, {f"c:{name}:{label}": amount})


class BatchRecorder:
    """Batch sizes seen by a model replica, flushed to Redis every few seconds: the batch
    function itself never waits for Redis."""

    def __init__(self, deployment: str, interval_s: float = 5.0):
        self.deployment = deployment
        self.interval_s = interval_s
        self.sizes: Counter[int] = Counter()
        self._task: asyncio.Task | None = None
        self._rt: Runtime | None = None

    def record(self, size: int) -> None:
        self.sizes[size] += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        from serve_app.core.settings import get_settings

        try:
            self._rt = Runtime.create(get_settings())
        except Exception as exc:  # a model run outside a service (tests): nowhere to flush to
            log.debug("batch sizes not recorded: %s", exc)
            return
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()

    async def flush(self) -> None:
        sizes, self.sizes = self.sizes, Counter()
        fields: Counter[str] = Counter()
        for size, times in sizes.items():
            for field, amount in histogram_fields(
                "batch_size", self.deployment, size, BATCH_BUCKETS
            ).items():
                fields[field] += amount * times
        if fields and self._rt is not None:
            await add(self._rt, dict(fields))


async def queue_gauges(rt: Runtime, operation: str, now_ms: int) -> dict[str, float]:
    """Waiting jobs, running jobs and the age of the oldest unfinished entry."""
    stream, group = rt.keys.stream(operation), rt.keys.group
    depth = int(await rt.redis.get(rt.keys.depth(operation)) or 0)
    oldest: list[int] = []
    running = 0
    try:
        pending = await rt.redis.xpending(stream, group)
        running = int(pending["pending"])
        if running:
            oldest.append(_entry_ms(pending["min"]))
        groups = await rt.redis.xinfo_groups(stream)
        last = next((g["last-delivered-id"] for g in groups if g["name"] == group), "0-0")
        waiting = await rt.redis.xrange(stream, min=f"({last}", count=1)
        if waiting:
            oldest.append(_entry_ms(waiting[0][0]))
    except RedisError:  # the stream or group does not exist yet: nothing queued
        pass
    age = (now_ms - min(oldest)) / 1000 if oldest else 0.0
    return {"queue_depth": max(depth, 0), "jobs_running": running, "oldest": max(age, 0.0)}


def _entry_ms(entry_id: str | bytes) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-")[0])


HELP = {
    "jobs_total": ("counter", "Jobs by operation and outcome (accepted, done, failed)."),
    "credits_total": ("counter", "Credits reserved at submit, captured when done, released."),
    "webhook_deliveries_total": ("counter", "Webhook delivery attempts by outcome."),
    "rate_limited_total": ("counter", "Requests refused with 429, by rate-limit tier."),
    "queue_depth": ("gauge", "Jobs waiting in the queue, by operation."),
    "jobs_running": ("gauge", "Jobs delivered to a dispatcher and not finished, by operation."),
    "queue_oldest_age_seconds": ("gauge", "Age of the oldest unfinished queue entry."),
    "job_queue_wait_seconds": ("histogram", "Time from submit to start, by operation."),
    "job_processing_seconds": ("histogram", "Time from start to done, by operation."),
    "batch_size": ("histogram", "Items per model batch, by deployment."),
}
HISTOGRAM_LABEL = {
    "job_queue_wait_seconds": "operation",
    "job_processing_seconds": "operation",
    "batch_size": "deployment",
}
COUNTER_LABEL = {
    "credits_total": "movement",
    "webhook_deliveries_total": "outcome",
    "rate_limited_total": "tier",
}


def _header(name: str) -> list[str]:
    kind, text = HELP[name]
    return [f"# HELP photoserve_{name} {text}", f"# TYPE photoserve_{name} {kind}"]


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def render_counters(raw: dict[str, str]) -> list[str]:
    lines = _header("jobs_total")
    for field, value in sorted(raw.items()):
        if field.startswith("jobs:"):
            _, operation, status = field.split(":", 2)
            lines.append(
                f'photoserve_jobs_total{{operation="{operation}",status="{status}"}} {value}'
            )
    credits = {f.split(":", 1)[1]: v for f, v in raw.items() if f.startswith("credits:")}
    counters = {"credits_total": credits}
    for name in ("webhook_deliveries_total", "rate_limited_total"):
        prefix = f"c:{name}:"
        counters[name] = {f[len(prefix) :]: v for f, v in raw.items() if f.startswith(prefix)}
    for name, values in counters.items():
        lines += _header(name)
        label = COUNTER_LABEL[name]
        lines += [f'photoserve_{name}{{{label}="{k}"}} {v}' for k, v in sorted(values.items())]
    return lines


def render_histograms(raw: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for name, label in HISTOGRAM_LABEL.items():
        lines += _header(name)
        bounds = BATCH_BUCKETS if name == "batch_size" else LATENCY_BUCKETS
        prefix = f"h:{name}:"
        values = sorted({f[len(prefix) :].rsplit(":", 1)[0] for f in raw if f.startswith(prefix)})
        for value in values:
            lines += _histogram(name, label, value, bounds, raw)
    return lines


def _histogram(name, label, value, bounds, raw) -> list[str]:
    key = f"h:{name}:{value}:"
    cumulative, lines = 0, []
    for bound in (*bounds, "+Inf"):
        cumulative += int(raw.get(f"{key}{bound}", 0))
        le = bound if bound == "+Inf" else repr(float(bound))
        lines.append(f'photoserve_{name}_bucket{{{label}="{value}",le="{le}"}} {cumulative}')
    lines.append(f'photoserve_{name}_sum{{{label}="{value}"}} {raw.get(key + "sum", 0)}')
    lines.append(f'photoserve_{name}_count{{{label}="{value}"}} {raw.get(key + "count", 0)}')
    return lines


async def render_queues(rt: Runtime, operations: Iterable[str]) -> list[str]:
    now_ms = int(time.time() * 1000)
    gauges = {op: await queue_gauges(rt, op, now_ms) for op in operations}
    lines: list[str] = []
    for name, field in (
        ("queue_depth", "queue_depth"),
        ("jobs_running", "jobs_running"),
        ("queue_oldest_age_seconds", "oldest"),
    ):
        lines += _header(name)
        for op, values in gauges.items():
            lines.append(f'photoserve_{name}{{operation="{op}"}} {_number(values[field])}')
    return lines


async def render(rt: Runtime, operations: Iterable[str]) -> str:
    raw = await rt.redis.hgetall(rt.keys.metrics)
    lines = render_counters(raw) + render_histograms(raw) + await render_queues(rt, operations)
    return "\n".join(lines) + "\n"

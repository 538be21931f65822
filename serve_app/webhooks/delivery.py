"""Webhook delivery, in the background (never in the request path).

Events are written to an outbox stream by the same Lua script that finishes the job, so an
event cannot be lost between "done" and "notify". A consumer group delivers them: POST with a
5 s timeout, Standard Webhooks signature, the SSRF guard applied at delivery time too. A
failed attempt is scheduled again after a back-off (30 s, 2 min, 10 min, 45 min: five
attempts over about an hour); every attempt lands in the account's delivery log.

What a delivery says is its registration's style: the worker is given one `Render` per
style (the native Standard Webhooks one, and each vendor surface's own) and knows none of
them itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from redis.exceptions import RedisError

from serve_app.core import clock, logs, metrics
from serve_app.core.errors import ApiError
from serve_app.core.fetch import pinned_request
from serve_app.core.runtime import Runtime
from serve_app.core.settings import Settings
from serve_app.engine import jobs
from serve_app.engine.dispatcher import ensure_group
from serve_app.engine.jobs import Job
from serve_app.webhooks import registration
from serve_app.webhooks.registration import STANDARD

log = logging.getLogger("photoserve.webhooks")
GROUP_IDLE_MS = 60_000


@dataclass(frozen=True)
class Event:
    """One delivery to render: what happened to which job, for whom."""

    name: str  # job.done | job.failed
    job: Job
    msg_id: str  # the same on every attempt
    secret: str  # the registration's signing secret
    base_url: str
    now: float
    settings: Settings


Message = tuple[bytes, dict[str, str]]  # (body, headers)
Render = Callable[[Event], Message]


class WebhookWorker:
    def __init__(
        self,
        rt: Runtime,
        consumer: str,
        base_url: str,
        styles: Mapping[str, Render],
        concurrency: int = 8,
    ):
        self.rt = rt
        self.consumer = consumer
        self.base_url = base_url
        self.styles = styles
        self.slots = asyncio.Semaphore(concurrency)
        self.loops: list[asyncio.Task] = []
        self.client = httpx.AsyncClient(
            timeout=rt.settings.webhook_timeout_s, follow_redirects=False
        )

    async def start(self) -> None:
        await ensure_group(self.rt, self.rt.keys.webhooks)
        self.loops = [asyncio.create_task(self._consume()), asyncio.create_task(self._due())]

    async def stop(self) -> None:
        for loop in self.loops:
            loop.cancel()
        await asyncio.gather(*self.loops, return_exceptions=True)
        await self.client.aclose()

    def healthy(self) -> bool:
        return all(not loop.done() for loop in self.loops)

    async def _consume(self) -> None:
        stream = self.rt.keys.webhooks
        while True:
            try:
                claimed = await self.rt.redis.xautoclaim(
                    stream, self.rt.keys.group, self.consumer, GROUP_IDLE_MS, count=16
                )
                reply = await self.rt.redis.xreadgroup(
                    self.rt.keys.group, self.consumer, {stream: ">"}, count=16, block=1000
                )
            except (RedisError, OSError) as exc:
                log.warning("webhook outbox unreachable (%s)", exc)
                await asyncio.sleep(1)
                with contextlib.suppress(RedisError, OSError):
                    await ensure_group(self.rt, stream)
                continue
            entries = claimed[1] + [entry for _, batch in reply or [] for entry in batch]
            await asyncio.gather(*(self._handle(entry_id, fields) for entry_id, fields in entries))

    async def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        async with self.slots:
            try:
                with logs.job_context(fields.get("job_id", ""), fields.get("account")):
                    await self.deliver(entry_id, fields)
                await self.rt.redis.xack(self.rt.keys.webhooks, self.rt.keys.group, entry_id)
            except (RedisError, OSError):
                log.exception("webhook %s: state not stored; it will be delivered again", entry_id)

    async def _due(self) -> None:
        while True:
            await asyncio.sleep(1)
            with contextlib.suppress(RedisError, OSError):
                await self.rt.scripts.webhook_due(
                    keys=[self.rt.keys.webhook_retries, self.rt.keys.webhooks],
                    args=[clock.ms(self.rt.clock()), 100],
                )

    async def deliver(self, entry_id: str, fields: dict[str, str]) -> None:
        account = fields.get("account", "")
        url, secret, style = await self.rt.redis.hmget(
            self.rt.keys.account(account), ["webhook_url", "webhook_secret", "webhook_style"]
        )
        job = await jobs.load(self.rt, fields.get("job_id", ""))
        if not url or job is None:
            return  # webhook removed since, or the job expired: nothing to say
        attempt = int(fields.get("attempt", 1))
        msg_id = fields.get("msg_id") or f"msg_{entry_id}"
        event = Event(
            fields["event"],
            job,
            msg_id,
            secret or "",
            self.base_url,
            self.rt.clock(),
            self.rt.settings,
        )
        body, headers = self.styles.get(style or STANDARD, self.styles[STANDARD])(event)
        outcome = await self.post(url, body, headers)
        record = {
            "id": msg_id,
            "event": fields["event"],
            "job_id": job.job_id,
            "url": url,
            "attempt": attempt,
            "at": clock.iso(self.rt.clock()),
            **outcome,
        }
        if not outcome["delivered"]:
            record["next_attempt_at"] = await self._schedule_retry(fields, msg_id, attempt)
        await registration.log_delivery(self.rt, account, record)
        await metrics.count(self.rt, "webhook_deliveries_total", _outcome(record))

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        started = time.monotonic()
        try:
            request = await pinned_request(
                self.client,
                "POST",
                url,
                self.rt.settings.allow_private_urls,
                "webhook url",
                headers=headers,
                content=body,
            )
            response = await self.client.send(request)
        except (httpx.HTTPError, ApiError, OSError) as exc:
            error = exc.detail if isinstance(exc, ApiError) else type(exc).__name__
            return {
                "delivered": False,
                "status_code": None,
                "error": error,
                "duration_ms": _ms_since(started),
            }
        delivered = 200 <= response.status_code < 300
        return {
            "delivered": delivered,
            "status_code": response.status_code,
            "error": None if delivered else f"HTTP {response.status_code}",
            "duration_ms": _ms_since(started),
        }

    async def _schedule_retry(
        self, fields: dict[str, str], msg_id: str, attempt: int
    ) -> str | None:
        backoff = self.rt.settings.webhook_backoff_s
        if attempt > len(backoff):
            log.info("webhook %s: giving up after %d attempts", msg_id, attempt)
            return None
        due = self.rt.clock() + backoff[attempt - 1]
        member = orjson.dumps({**fields, "attempt": attempt + 1, "msg_id": msg_id}).decode()
        await self.rt.redis.zadd(self.rt.keys.webhook_retries, {member: clock.ms(due)})
        return clock.iso(due)


def _outcome(record: dict[str, Any]) -> str:
    if record["delivered"]:
        return "delivered"
    return "retried" if record.get("next_attempt_at") else "failed"


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

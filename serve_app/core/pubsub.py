"""One long-lived Redis subscription, shared shape for the job-finished and account-changed
listeners. Reads with a timeout and checks a stop flag instead of relying on cancellation:
redis-py's `listen()` can swallow a CancelledError and never return."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.exceptions import RedisError

log = logging.getLogger("photoserve.pubsub")
POLL_S = 0.2


class Subscription:
    def __init__(
        self,
        redis,
        channel: str,
        on_message: Callable[[str], None],
        on_reset: Callable[[], None] = lambda: None,
    ):
        self.redis = redis
        self.channel = channel
        self.on_message = on_message
        self.on_reset = on_reset  # called whenever messages may have been missed
        self.subscribed = asyncio.Event()
        self.stopping = False
        self.task: asyncio.Task | None = None

    def ensure_running(self) -> None:
        if self.stopping or (self.task is not None and not self.task.done()):
            return
        try:
            self.task = asyncio.get_running_loop().create_task(self._run())
        except RuntimeError:  # no running loop
            self.task = None

    async def _run(self) -> None:
        while not self.stopping:
            try:
                await self._listen()
            except (RedisError, OSError) as exc:
                log.warning("subscription to %s lost (%s); resubscribing", self.channel, exc)
                await asyncio.sleep(POLL_S)
            finally:
                self.subscribed.clear()
                self.on_reset()

    async def _listen(self) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            self.subscribed.set()
            while not self.stopping:
                message = await pubsub.get_message(timeout=POLL_S)
                if message is not None and message.get("type") == "message":
                    self.on_message(message["data"])
        finally:
            await pubsub.aclose()

    async def close(self) -> None:
        self.stopping = True
        if self.task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, RedisError, OSError):
                await asyncio.wait_for(self.task, POLL_S * 4)

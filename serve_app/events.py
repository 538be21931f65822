"""Job-finished notifications: complete.lua and fail.lua PUBLISH the job id; each process
keeps one subscription and wakes the requests waiting on those jobs (sync mode), instead of
every waiting request polling Redis. Pub/sub may drop a message (a reconnect): waiters also
look at the job itself at least once a second."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError

log = logging.getLogger("photoserve.events")


class JobEvents:
    def __init__(self, redis, channel: str):
        self.redis = redis
        self.channel = channel
        self.waiters: dict[str, set[asyncio.Future]] = {}
        self.task: asyncio.Task | None = None
        self.subscribed = asyncio.Event()

    def register(self, job_id: str) -> asyncio.Future:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._listen())
        future = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(job_id, set()).add(future)
        return future

    def unregister(self, job_id: str, future: asyncio.Future) -> None:
        waiting = self.waiters.get(job_id)
        if waiting is not None:
            waiting.discard(future)
            if not waiting:
                del self.waiters[job_id]

    async def ready(self, timeout_s: float = 1.0) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), timeout_s)
        return self.subscribed.is_set()

    def _notify(self, job_id: str) -> None:
        for future in self.waiters.pop(job_id, ()):
            if not future.done():
                future.set_result(True)

    async def _listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._notify(message["data"])
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning("job events subscription lost (%s); resubscribing", exc)
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

"""Job-finished notifications: complete.lua and fail.lua PUBLISH the job id; each process
keeps one subscription and wakes the requests waiting on those jobs (sync mode), instead of
every waiting request polling Redis. Pub/sub may drop a message (a reconnect): waiters also
look at the job itself at least once a second."""

from __future__ import annotations

import asyncio
import contextlib

from serve_app.core.pubsub import Subscription
from serve_app.core.runtime import Runtime


class JobEvents:
    """One per process: `rt.part(JobEvents)`."""

    def __init__(self, rt: Runtime, channel: str | None = None):
        self.waiters: dict[str, set[asyncio.Future]] = {}
        channel = channel or rt.keys.job_events
        self.subscription = Subscription(rt.redis, channel, self._notify)

    def register(self, job_id: str) -> asyncio.Future:
        self.subscription.ensure_running()
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
            await asyncio.wait_for(self.subscription.subscribed.wait(), timeout_s)
        return self.subscription.subscribed.is_set()

    def _notify(self, job_id: str) -> None:
        for future in self.waiters.pop(job_id, ()):
            if not future.done():
                future.set_result(True)

    async def close(self) -> None:
        await self.subscription.close()

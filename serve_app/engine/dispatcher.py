"""The dispatcher: pulls jobs from the Redis Streams consumer group and runs them.

- An entry is acknowledged only after the job's outcome is stored (execution.Executor), so a
  crash anywhere before that leaves it pending in the group.
- It pulls no more entries per operation than that operation has slots: waiting work stays in
  Redis, and one busy operation never holds back another. Slots are sized (Dispatcher
  user_config) to at least max_replicas x target_ongoing_requests of the model deployment, so
  Serve's autoscaler sees the queue as ongoing requests and adds replicas.
- Entries pending longer than `claim_idle_s` belong to a dead consumer and are claimed again
  (XAUTOCLAIM); the dispatcher keeps its own in-flight entries fresh (XCLAIM JUSTID) so a
  long job is never taken from a live consumer.
- `stop()` stops reading, lets in-flight jobs finish for `shutdown_grace_s`, and hands the
  rest back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from redis.exceptions import RedisError, ResponseError

from serve_app.core import logs
from serve_app.core.runtime import Runtime
from serve_app.engine.backends import Lane
from serve_app.engine.execution import Executor

log = logging.getLogger("photoserve.dispatcher")


class Slots:
    """A semaphore whose size can change while slots are taken (reconfigure)."""

    def __init__(self, size: int):
        self.size = size
        self.used = 0
        self._changed = asyncio.Event()

    async def acquire(self) -> None:
        while self.used >= self.size:
            self._changed.clear()
            await self._changed.wait()
        self.used += 1

    def release(self) -> None:
        self.used -= 1
        self._changed.set()

    def resize(self, size: int) -> None:
        self.size = size
        self._changed.set()

    @property
    def free(self) -> int:
        return max(0, self.size - self.used)


@dataclass
class InFlight:
    operation: str
    stream: str
    entry_id: str
    job_id: str
    task: asyncio.Task | None = None


def heartbeat_s(claim_idle_s: float) -> float:
    """Four beats per claim window, whatever its length: a stalled beat or two still keeps a
    running job's entry ours (a floor of 0.5 s once let a 0.4 s window lapse between beats)."""
    return claim_idle_s / 4


class Dispatcher:
    def __init__(self, rt: Runtime, lanes: dict[str, Lane], consumer: str):
        self.rt = rt
        self.lanes = lanes
        self.consumer = consumer
        self.executor = Executor(rt, lanes)
        size = rt.settings.dispatch_concurrency
        self.slots = {operation: Slots(size) for operation in lanes}
        self.in_flight: dict[str, InFlight] = {}
        self.loops: list[asyncio.Task] = []
        self.stopping = asyncio.Event()

    @property
    def tasks(self) -> set[asyncio.Task]:
        return {item.task for item in self.in_flight.values() if item.task}

    async def start(self) -> None:
        for operation in self.lanes:
            await ensure_group(self.rt, self.rt.keys.stream(operation))
            self.loops.append(asyncio.create_task(self._consume(operation)))
            self.loops.append(asyncio.create_task(self._reclaim(operation)))
        self.loops.append(asyncio.create_task(self._heartbeat()))

    def resize(self, slots: dict[str, int]) -> None:
        for operation, size in slots.items():
            if operation in self.slots:
                self.slots[operation].resize(int(size))

    def healthy(self) -> bool:
        return all(not loop.done() for loop in self.loops)

    async def stop(self) -> None:
        self.stopping.set()
        for loop in self.loops:
            loop.cancel()
        await asyncio.gather(*self.loops, return_exceptions=True)
        pending = self.tasks
        if pending:
            await asyncio.wait(pending, timeout=self.rt.settings.shutdown_grace_s)
        await self._hand_back()

    async def _hand_back(self) -> None:
        for item in list(self.in_flight.values()):
            if item.task and not item.task.done():
                item.task.cancel()
                await asyncio.gather(item.task, return_exceptions=True)
            with contextlib.suppress(RedisError, OSError):
                await self.rt.scripts.requeue(
                    keys=[
                        self.rt.keys.job(item.job_id),
                        item.stream,
                        self.rt.keys.depth(item.operation),
                    ],
                    args=[self.rt.keys.group, item.entry_id, item.job_id],
                )
                log.info("job %s handed back to the queue", item.job_id)
            self.in_flight.pop(item.entry_id, None)

    async def _consume(self, operation: str) -> None:
        stream, slots = self.rt.keys.stream(operation), self.slots[operation]
        while not self.stopping.is_set():
            await slots.acquire()
            try:
                reply = await self.rt.redis.xreadgroup(
                    self.rt.keys.group,
                    self.consumer,
                    {stream: ">"},
                    count=1,
                    block=self.rt.settings.dispatch_block_ms,
                )
            except (RedisError, OSError) as exc:
                slots.release()
                log.warning("reading %s failed (%s); retrying", stream, exc)
                await self._recover_group(stream)
                continue
            entries = [entry for _, batch in reply or [] for entry in batch]
            if not entries:
                slots.release()
                continue
            entry_id, fields = entries[0]
            self._spawn(operation, stream, entry_id, fields.get("job_id", ""))

    async def _reclaim(self, operation: str) -> None:
        """Claim entries a dead consumer left pending, as slots allow."""
        stream, cursor = self.rt.keys.stream(operation), "0-0"
        idle_ms = int(self.rt.settings.claim_idle_s * 1000)
        slots = self.slots[operation]
        while not self.stopping.is_set():
            await asyncio.sleep(self.rt.settings.reclaim_interval_s)
            free = slots.free
            if free <= 0:
                continue
            try:
                reply = await self.rt.redis.xautoclaim(
                    stream, self.rt.keys.group, self.consumer, idle_ms, start_id=cursor, count=free
                )
            except (RedisError, OSError) as exc:
                log.warning("reclaiming on %s failed (%s)", stream, exc)
                await self._recover_group(stream)
                continue
            cursor, claimed = reply[0], reply[1]
            for entry_id, fields in claimed:
                if entry_id in self.in_flight or not fields:
                    continue
                log.info(
                    "claimed entry %s (job %s) from a dead consumer", entry_id, fields.get("job_id")
                )
                await slots.acquire()
                self._spawn(operation, stream, entry_id, fields.get("job_id", ""))

    async def _heartbeat(self) -> None:
        """Keep our own pending entries young, so nobody reclaims a job we are running; let
        go of decoded photos nobody asked for lately."""
        interval = heartbeat_s(self.rt.settings.claim_idle_s)
        while not self.stopping.is_set():
            await asyncio.sleep(interval)
            self.executor.recent.expire()
            by_stream: dict[str, list[str]] = {}
            for item in self.in_flight.values():
                by_stream.setdefault(item.stream, []).append(item.entry_id)
            for stream, ids in by_stream.items():
                with contextlib.suppress(RedisError, OSError):
                    await self.rt.redis.xclaim(
                        stream, self.rt.keys.group, self.consumer, 0, ids, justid=True
                    )

    async def _recover_group(self, stream: str) -> None:
        await asyncio.sleep(0.5)
        with contextlib.suppress(RedisError, OSError):
            await ensure_group(self.rt, stream)

    def _spawn(self, operation: str, stream: str, entry_id: str, job_id: str) -> None:
        item = InFlight(operation, stream, entry_id, job_id)
        self.in_flight[entry_id] = item
        item.task = asyncio.create_task(self._handle(item))

    async def _handle(self, item: InFlight) -> None:
        try:
            with logs.job_context(item.job_id):
                await self.executor.run(item.operation, item.job_id)
            await self.rt.redis.xack(item.stream, self.rt.keys.group, item.entry_id)
        except asyncio.CancelledError:
            raise  # stays in in_flight: stop() hands it back
        except Exception:
            # Left pending in the group: it will be claimed and delivered again.
            log.exception("job %s: outcome not stored", item.job_id)
        finally:
            self.slots[item.operation].release()
        self.in_flight.pop(item.entry_id, None)


async def ensure_group(rt: Runtime, stream: str) -> None:
    try:
        await rt.redis.xgroup_create(stream, rt.keys.group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise

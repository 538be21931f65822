"""The dispatcher: pulls jobs from the Redis Streams consumer group, runs them on a model
backend, stores the result, and finishes the job (capturing or releasing its credits).

An entry is acknowledged only after the job's outcome is stored, so a crash anywhere before
that leaves it pending in the group, to be delivered again. It pulls no more entries than it
has free slots: waiting work stays in Redis, never in process memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from redis.exceptions import RedisError, ResponseError

from serve_app import images, jobs
from serve_app.backends import Backend, JobFailure
from serve_app.jobs import FINISHED, JobStatus
from serve_app.runtime import Runtime
from serve_app.storage import BlobNotFound

log = logging.getLogger("photoserve.dispatcher")
PROGRESS_INTERVAL_S = 0.25


class Dispatcher:
    def __init__(self, rt: Runtime, backends: dict[str, Backend], consumer: str):
        self.rt = rt
        self.backends = backends
        self.consumer = consumer
        self.slots = asyncio.Semaphore(rt.settings.dispatch_concurrency)
        self.tasks: set[asyncio.Task] = set()
        self.loops: list[asyncio.Task] = []
        self.stopping = asyncio.Event()

    async def start(self) -> None:
        for operation in self.backends:
            await self._ensure_group(operation)
            self.loops.append(asyncio.create_task(self._consume(operation)))

    async def stop(self) -> None:
        self.stopping.set()
        for loop in self.loops:
            loop.cancel()
        await asyncio.gather(*self.loops, *self.tasks, return_exceptions=True)

    def healthy(self) -> bool:
        return all(not loop.done() for loop in self.loops)

    async def _ensure_group(self, operation: str) -> None:
        try:
            await self.rt.redis.xgroup_create(
                self.rt.keys.stream(operation), self.rt.keys.group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _consume(self, operation: str) -> None:
        stream = self.rt.keys.stream(operation)
        while not self.stopping.is_set():
            await self.slots.acquire()
            try:
                reply = await self.rt.redis.xreadgroup(
                    self.rt.keys.group,
                    self.consumer,
                    {stream: ">"},
                    count=1,
                    block=self.rt.settings.dispatch_block_ms,
                )
            except (RedisError, OSError) as exc:
                self.slots.release()
                log.warning("reading %s failed (%s); retrying", stream, exc)
                await self._recover_group(operation)
                continue
            entries = [entry for _, batch in reply or [] for entry in batch]
            if not entries:
                self.slots.release()
                continue
            entry_id, fields = entries[0]
            self._spawn(operation, stream, entry_id, fields.get("job_id", ""))

    async def _recover_group(self, operation: str) -> None:
        await asyncio.sleep(0.5)
        with contextlib.suppress(RedisError, OSError):
            await self._ensure_group(operation)

    def _spawn(self, operation: str, stream: str, entry_id: str, job_id: str) -> None:
        task = asyncio.create_task(self._handle(operation, stream, entry_id, job_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _handle(self, operation: str, stream: str, entry_id: str, job_id: str) -> None:
        try:
            await self.process(operation, job_id)
            await self.rt.redis.xack(stream, self.rt.keys.group, entry_id)
        except Exception:
            # Left pending in the group: it will be delivered again.
            log.exception("job %s: outcome not stored", job_id)
        finally:
            self.slots.release()

    async def process(self, operation: str, job_id: str) -> None:
        job = await jobs.load(self.rt, job_id)
        if job is None:
            await self._release_orphan(job_id)
            return
        if job.get("status") in FINISHED:
            return
        started = await jobs.transition(
            self.rt,
            job_id,
            {JobStatus.QUEUED, JobStatus.PROCESSING},
            JobStatus.PROCESSING,
            started_at=time.time(),
            progress=0,
        )
        if started != 1:
            return
        await self.rt.redis.hincrby(self.rt.keys.job(job_id), "attempts", 1)
        try:
            outcome = await self.execute(self.backends[operation], job)
        except JobFailure as failure:
            log.info("job %s failed: %s", job_id, failure.code)
            await jobs.fail(self.rt, job, failure.code, failure.detail)
            return
        await jobs.complete(self.rt, job, **outcome)

    async def _release_orphan(self, job_id: str) -> None:
        """The job hash expired before it ran: its credits must not stay held."""
        account = await self.rt.redis.hget(self.rt.keys.hold(job_id), "account")
        if account:
            await jobs.fail(self.rt, {"job_id": job_id, "account": account}, "expired", "")

    async def execute(self, backend: Backend, job: dict[str, str]) -> dict[str, Any]:
        decoded = await self._decode_input(job)
        params = orjson.loads(job["params"])
        rgb = await self._run_backend(backend, job["job_id"], decoded.rgb, params)
        alpha = decoded.alpha
        if alpha is not None:
            alpha = await asyncio.to_thread(images.resize_alpha, alpha, rgb.shape[1], rgb.shape[0])
        fmt = params.get("output_format", "png")
        data = await asyncio.to_thread(images.encode, rgb, alpha, fmt)
        key = f"results/{job['job_id']}.{fmt}"
        await self.rt.blobs.put(key, data)
        return {
            "result_key": key,
            "content_type": images.CONTENT_TYPES[fmt],
            "result_bytes": len(data),
            "width": rgb.shape[1],
            "height": rgb.shape[0],
        }

    async def _decode_input(self, job: dict[str, str]) -> images.Decoded:
        try:
            data = await self.rt.blobs.get(job["input_key"])
        except BlobNotFound as exc:
            raise JobFailure("internal_error", "The uploaded image is no longer stored.") from exc
        try:
            return await asyncio.to_thread(images.decode, data)
        except Exception as exc:
            raise JobFailure("corrupt_image", "The image data is truncated or damaged.") from exc

    async def _run_backend(self, backend: Backend, job_id: str, image, params) -> Any:
        result, last_write = None, 0.0
        try:
            async for event in backend.stream(image, params):
                if "image" in event:
                    result = event["image"]
                elif time.monotonic() - last_write >= PROGRESS_INTERVAL_S:
                    last_write = time.monotonic()
                    await self._progress(job_id, event["progress"])
        except JobFailure:
            raise
        except Exception as exc:
            log.exception("job %s: model call failed", job_id)
            raise JobFailure("error_inference", "The model failed on this image.") from exc
        if result is None:
            raise JobFailure("error_inference", "The model returned no image.")
        return result

    async def _progress(self, job_id: str, fraction: float) -> None:
        # 99 at most: 100 is written together with status done.
        percent = min(99, int(fraction * 100))
        await jobs.transition(self.rt, job_id, {JobStatus.PROCESSING}, None, progress=percent)

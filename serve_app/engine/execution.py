"""Running one delivered job to its outcome: start, deadline, model call (retried while the
replica is being replaced), result stored, then done or failed with its credits moved.

`run` returns once the outcome is stored in Redis; it raises only when Redis itself could
not be reached, in which case the stream entry stays pending and is delivered again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

from serve_app.core import logs, metrics
from serve_app.core.keyspace import Blobs
from serve_app.core.runtime import Runtime
from serve_app.core.settings import LONG, RETENTION
from serve_app.core.storage import BlobNotFound
from serve_app.engine import images, jobs, masks, recent_images
from serve_app.engine.backends import Backend, JobFailure, Lane, is_retryable
from serve_app.engine.jobs import Job, JobStatus

log = logging.getLogger("photoserve.execution")


PROGRESS_INTERVAL_S = 0.25
BACKEND_RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 15.0)


class Executor:
    def __init__(self, rt: Runtime, lanes: dict[str, Lane]):
        self.rt = rt
        self.lanes = lanes
        self.recent = recent_images.RecentImages(rt.settings.recent_images_mb * 2**20)

    async def run(self, operation: str, job_id: str) -> None:
        state, job = await jobs.start(self.rt, job_id, operation)
        if state == -1:
            await self._release_orphan(job_id, operation)
        if job is None:
            return
        logs.set_account(job.account)
        settings = self.rt.settings
        if job.attempts > settings.max_deliveries:
            detail = f"The job was tried {settings.max_deliveries} times without finishing."
            await jobs.fail(self.rt, job, "error_inference", detail)
            return
        lane = self.lanes[operation]
        deadline = settings.deadlines.get(operation, lane.deadline_s)
        left = deadline - (self.rt.clock() - (job.started_at or 0.0))
        await self._run_until(lane, job, left)

    async def _run_until(self, lane: Lane, job: Job, left: float) -> None:
        began = time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            async with asyncio.timeout(left):
                outcome = await self.execute(lane, job)
        except TimeoutError:
            await jobs.fail(self.rt, job, "timeout", "The job took longer than its deadline.")
            return
        except JobFailure as failure:
            log.info("job %s failed: %s", job.job_id, failure.code)
            await jobs.fail(self.rt, job, failure.code, failure.detail)
            return
        seconds = time.monotonic() - began
        await jobs.complete(self.rt, job, seconds, **outcome)
        log.info("job %s done in %.2f s", job.job_id, seconds)
        waited = (job.started_at or 0.0) - (job.created_at or 0.0)
        await metrics.observe_job(self.rt, job.operation, waited, seconds)

    async def execute(self, lane: Lane, job: Job) -> dict[str, Any]:
        decoded = await self._decode_input(job)
        # a replica's caches (the Segmenter's embeddings) are kept per customer, by the file
        params = {**job.params, "cache_scope": job.account}
        if decoded.digest is not None:
            params["cache_key"] = decoded.digest.hex()
        if params.get("mask_key"):
            params["mask"] = await self._decode_mask(params["mask_key"])
        if params.get("reference_key"):
            reference = await self._decode(params["reference_key"], "image", job.account)
            params["reference"] = reference.rgb
        if params.get("lora_key"):
            params["lora"] = await self._lora(params["lora_key"])
        final = await self._call_backend(lane.backend, job.job_id, decoded.rgb, params)
        rgb = final["image"]
        # an operation that makes its own transparency (a cut-out, a mask) replaces the input's
        alpha = decoded.alpha if lane.result.keeps_input_alpha else final.get("alpha")
        if alpha is not None and alpha.shape[:2] != rgb.shape[:2]:
            alpha = await asyncio.to_thread(images.resize_alpha, alpha, rgb.shape[1], rgb.shape[0])
        fmt = params.get("output_format", "png")
        quality = int(params.get("quality") or images.DEFAULT_QUALITY)
        data = await asyncio.to_thread(images.encode, rgb, alpha, fmt, quality)
        key = Blobs.result(job.job_id, fmt, params.get(RETENTION) == LONG)
        faces = await self._store_faces(job.job_id, final.get("faces") or [])
        await self.rt.blobs.put(key, data)  # the result exists before the job says done
        return {
            "result_key": key,
            "content_type": images.CONTENT_TYPES[fmt],
            "result_bytes": len(data),
            "width": rgb.shape[1],
            "height": rgb.shape[0],
            "faces": faces,
            **({"seed": final["seed"]} if final.get("seed") is not None else {}),
        }

    async def _store_faces(self, job_id: str, crops: list) -> int:
        """Extra results: each restored face, 512x512 PNG."""
        for index, crop in enumerate(crops):
            data = await asyncio.to_thread(images.encode, crop, None, "png")
            await self.rt.blobs.put(Blobs.face(job_id, index), data)
        return len(crops)

    async def _lora(self, key: str) -> bytes:
        """A custom model's weights, for the generator to load (and keep) as an adapter."""
        try:
            return await self.rt.blobs.get(key)
        except BlobNotFound as exc:
            raise JobFailure("model_unavailable", "The custom model was deleted.") from exc

    async def _decode_mask(self, key: str):
        try:
            data = await self.rt.blobs.get(key)
        except BlobNotFound as exc:
            raise JobFailure("internal_error", "The uploaded mask is no longer stored.") from exc
        return await asyncio.to_thread(masks.decode_mask, data)

    async def _decode_input(self, job: Job) -> images.Decoded:
        if not job.input_key:  # an operation without an input photo
            return images.Decoded(None, None)
        return await self._decode(job.input_key, "image", job.account)

    async def _decode(self, key: str, what: str, account: str) -> images.Decoded:
        try:
            data = await self.rt.blobs.get(key)
        except BlobNotFound as exc:
            raise JobFailure("internal_error", f"The uploaded {what} is no longer stored.") from exc
        if not self.recent.budget:  # turned off: no hash to compute
            return await self._decode_bytes(data)
        name = await asyncio.to_thread(recent_images.digest, data, account)
        known = self.recent.get(name)
        if known is not None:  # the same file as a recent job's (clicks on one photo)
            return known
        decoded = dataclasses.replace(await self._decode_bytes(data), digest=name)
        return self.recent.put(name, decoded)

    async def _decode_bytes(self, data: bytes) -> images.Decoded:
        try:
            return await asyncio.to_thread(images.decode, data)
        except Exception as exc:
            raise JobFailure("corrupt_image", "The image data is truncated or damaged.") from exc

    async def _call_backend(self, backend: Backend, job_id: str, image, params) -> Any:
        for delay in (*BACKEND_RETRY_DELAYS_S, None):
            try:
                return await self._stream(backend, job_id, image, params)
            except JobFailure:
                raise
            except Exception as exc:
                if delay is None or not is_retryable(exc):
                    log.exception("job %s: model call failed", job_id)
                    raise JobFailure("error_inference", "The model failed on this image.") from exc
                log.warning("job %s: model replica unavailable (%s); retrying", job_id, exc)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _stream(self, backend: Backend, job_id: str, image, params) -> dict[str, Any]:
        """The backend's final event ({"image", "faces"?}), progress written on the way."""
        result, last_write = None, 0.0
        async for event in backend.stream(image, params):
            if "image" in event:
                result = event
            elif event["progress"] < 1 and time.monotonic() - last_write >= PROGRESS_INTERVAL_S:
                last_write = time.monotonic()
                await self._progress(job_id, event["progress"])
        if result is None:
            raise JobFailure("error_inference", "The model returned no image.")
        return result

    async def _progress(self, job_id: str, fraction: float) -> None:
        # 99 at most: 100 is written together with status done.
        percent = min(99, int(fraction * 100))
        await jobs.transition(self.rt, job_id, {JobStatus.PROCESSING}, None, progress=percent)

    async def _release_orphan(self, job_id: str, operation: str) -> None:
        """The job hash expired before it ran: its credits must not stay held."""
        account = await self.rt.redis.hget(self.rt.keys.hold(job_id), "account")
        if account:
            await jobs.fail(self.rt, Job(job_id, account, operation), "expired", "")

"""One generator job from its params to its image, one at a time: text-to-image, an edit of
one or two photos, or the masked edit, with the job's custom model switched in first. The
Generator deployment streams its jobs through one Runner (tests run the same one in-process).

Params: prompt, steps, guidance, seed; work_width / work_height (text-to-image and edits);
mask and strength (masked edit, sized by its crop); reference (a second photo); lora and
lora_sha256 (a custom model). Events: {"progress"}, then {"image", "seed"}.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deployments.common.stepping import Cancelled, in_thread
from deployments.generate import flux2


def job_of(params: dict[str, Any]) -> flux2.Generation:
    """The job's generation (a masked edit's size comes from its crop: 0 here)."""
    return flux2.Generation(
        prompt=str(params["prompt"]),
        width=int(params.get("work_width", 0)),
        height=int(params.get("work_height", 0)),
        steps=int(params["steps"]),
        guidance=float(params["guidance"]),
        seed=int(params["seed"]),
    )


def references(image: np.ndarray | None, params: dict[str, Any]) -> list[np.ndarray]:
    return [r for r in (image, params.get("reference")) if r is not None]


def batch_key(params: dict[str, Any]) -> tuple | None:
    """Jobs with the same key can share one pipeline call: text-to-image of one size, steps,
    guidance and custom model (None: a job that runs alone)."""
    if params.get("mask") is not None or params.get("reference") is not None:
        return None
    job = job_of(params)
    return job.width, job.height, job.steps, job.guidance, params.get("lora_sha256")


@dataclass(eq=False)
class Member:
    """A job in a batch: its params, and the queue its stream reads events from."""

    params: dict[str, Any]
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    cancelled: bool = False

    def send(self, event: dict) -> None:
        with contextlib.suppress(RuntimeError):  # the loop may have closed under a cancel
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)


class Runner:
    def __init__(self, pipes: flux2.Pipelines, native: int):
        self.pipes = pipes
        self.native = native  # the model's working side (models.yaml sample_px)
        self.gate = threading.Lock()  # a pipeline is not reentrant
        self.adapters = flux2.Adapters()

    def work(self, image: np.ndarray | None, params: dict[str, Any]) -> Callable:
        job, pipes = job_of(params), self.pipes

        def run(on_step):  # in the thread holding the pipeline lock
            self.adapters.use(pipes, params.get("lora"), params.get("lora_sha256"))
            if params.get("mask") is None:
                return flux2.generate(pipes, job, references(image, params), on_step)
            mask, strength = np.asarray(params["mask"]), float(params.get("strength", 1.0))
            extra = references(None, params)
            return flux2.masked_edit(pipes, job, image, mask, extra, strength, self.native, on_step)

        return run

    async def stream(self, image: np.ndarray | None, params: dict[str, Any]) -> AsyncIterator:
        async for event in in_thread(self.work(image, params), self.gate):
            if "result" in event:
                yield {"image": event["result"], "seed": int(params["seed"])}
            else:
                yield event

    def run_batch(self, members: list[Member]) -> None:
        """Jobs of one batch_key in one pipeline call, in this thread, holding the lock; each
        member gets its progress and its image (or the error). It stops between steps only
        when every member has gone."""

        def on_step(fraction: float) -> None:
            if all(m.cancelled for m in members):
                raise Cancelled
            for member in members:
                member.send({"progress": fraction})

        first = members[0].params
        try:
            with self.gate:
                self.adapters.use(self.pipes, first.get("lora"), first.get("lora_sha256"))
                jobs = [job_of(m.params) for m in members]
                made = flux2.generate_many(self.pipes, jobs, on_step)
        except BaseException as exc:  # every member's stream raises it
            for member in members:
                member.send({"error": exc})
            return
        for member, image, job in zip(members, made, jobs, strict=True):
            member.send({"image": image, "seed": job.seed})


async def batched(submit: Callable, params: dict[str, Any]) -> AsyncIterator[dict]:
    """A job's events when it goes through a batch queue (`submit(member)` awaits the
    batch); closing the stream marks it gone."""
    member = Member(params)
    task = asyncio.ensure_future(submit(member))
    try:
        while "progress" in (event := await member.events.get()):
            yield event
    finally:
        member.cancelled = True
    await task
    if "error" in event:
        raise event["error"]
    yield event

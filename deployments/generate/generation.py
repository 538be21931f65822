"""One generator job from its params to its image, one at a time: text-to-image, an edit of
one or two photos, or the masked edit, with the job's custom model switched in first. The
Generator deployment streams its jobs through one Runner (tests run the same one in-process).

Params: prompt, steps, guidance, seed; work_width / work_height (text-to-image and edits);
mask and strength (masked edit, sized by its crop); reference (a second photo); lora and
lora_sha256 (a custom model). Events: {"progress"}, then {"image", "seed"}.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from deployments.common.stepping import in_thread
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

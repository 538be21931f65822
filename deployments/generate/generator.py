"""The Generator Serve deployment: FLUX.2 [klein] (deployments/generate/flux2.py), one set of
pipelines per replica, calls one at a time with step progress and cancellation
(deployments/common/stepping.py).

run(image, params): `image` is None for text-to-image, else the first reference photo;
params["reference"] a second one; params["mask"] makes it the masked edit of `image`;
params["lora"] (bytes, with lora_sha256) a custom model, kept loaded for the next jobs.
Params: prompt, work_width, work_height (multiples of 16), steps, guidance, seed, strength
(masked edit). Final event: {"image": work_height x work_width RGB, "seed"}.

user_config: {offload: bool} (model CPU offload, for GPUs smaller than the model).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve

from deployments.common.memory import gives_memory_back
from deployments.common.replica import ModelReplica
from deployments.common.stepping import in_thread
from deployments.generate import flux2
from serve_app.core.catalog import ModelSpec

OPERATION = "generate"


def job_of(params: dict[str, Any]) -> flux2.Generation:
    return flux2.Generation(
        prompt=str(params["prompt"]),
        width=int(params["work_width"]),
        height=int(params["work_height"]),
        steps=int(params["steps"]),
        guidance=float(params["guidance"]),
        seed=int(params["seed"]),
    )


def references(image: np.ndarray | None, params: dict[str, Any]) -> list[np.ndarray]:
    return [r for r in (image, params.get("reference")) if r is not None]


@serve.deployment(name="Generator", max_ongoing_requests=8)
class Generator(ModelReplica):
    operation = OPERATION

    def __init__(self) -> None:
        self._gate = threading.Lock()
        self._placed = False
        self.adapters = flux2.Adapters()
        super().__init__()

    def load(self, spec: ModelSpec, path: Path) -> Any:
        return flux2.load(path, self.device)

    @staticmethod
    def parse_config(user_config: dict[str, Any]) -> bool:
        unknown = set(user_config or {}) - {"offload"}
        if unknown:
            raise ValueError(f"unknown user_config keys: {sorted(unknown)}")
        return bool((user_config or {}).get("offload", False))

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Serve calls this after __init__: the pipelines go to the device here, once (a
        changed `offload` applies to new replicas)."""
        self._place(self.parse_config(user_config))

    def _place(self, offload: bool) -> None:
        if self.network is not None and not self._placed:
            flux2.place(self.network, self.device, offload)
            self._placed = True

    def _work(self, image: np.ndarray | None, params: dict[str, Any]):
        job, pipes = job_of(params), self.require_network()
        self._place(offload=False)

        def work(on_step):  # in the thread holding the pipeline lock
            self.adapters.use(pipes, params.get("lora"), params.get("lora_sha256"))
            if params.get("mask") is None:
                return flux2.generate(pipes, job, references(image, params), on_step)
            mask, strength = np.asarray(params["mask"]), float(params.get("strength", 1.0))
            extra = references(None, params)
            return flux2.inpaint(pipes, job, image, mask, extra, strength, on_step)

        return work

    @gives_memory_back
    async def run(self, image: np.ndarray | None, params: dict[str, Any]) -> AsyncIterator[dict]:
        work = self._work(image, params)
        async for event in in_thread(work, self._gate):
            if "result" in event:
                yield {"image": event["result"], "seed": int(params["seed"])}
            else:
                yield event

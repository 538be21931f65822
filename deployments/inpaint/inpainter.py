"""The Inpainter Serve deployment: prompt-guided inpainting with Stable Diffusion 1.5
(deployments/inpaint/sd_inpaint.py), one pipeline per replica.

Calls run one at a time, in a thread, with step progress and cancellation
(deployments/common/stepping.py).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve

from deployments.common.memory import gives_memory_back
from deployments.common.replica import ModelReplica
from deployments.common.stepping import in_thread
from deployments.inpaint import sd_inpaint
from serve_app.core.catalog import ModelSpec

log = logging.getLogger("photoserve.inpainter")
OPERATION = "inpaint"


@dataclass(frozen=True)
class InpaintParams:
    prompt: str
    negative_prompt: str | None = None
    steps: int = 30
    cfg_scale: float = 7.0
    strength: float = 0.85
    seed: int | None = None

    @classmethod
    def parse(cls, params: dict[str, Any]) -> InpaintParams:
        prompt = params.get("prompt")
        if not isinstance(prompt, str):
            raise ValueError("prompt (a string) is required")

        def given(name: str, default):
            value = params.get(name)
            return default if value is None else value

        return cls(
            prompt=prompt,
            negative_prompt=params.get("negative_prompt") or None,
            steps=int(given("steps", cls.steps)),
            cfg_scale=float(given("cfg_scale", cls.cfg_scale)),
            strength=float(given("strength", cls.strength)),
            # a seed in the signed 32-bit range survives every JSON client and database
            seed=int(given("seed", secrets.randbelow(2**31))),
        )


@serve.deployment(name="Inpainter", max_ongoing_requests=16)
class Inpainter(ModelReplica):
    operation = OPERATION

    def __init__(self) -> None:
        super().__init__()
        self._gate = threading.Lock()

    def load(self, spec: ModelSpec, path: Path) -> Any:
        return sd_inpaint.load(path, self.device)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Nothing to tune: one pipeline call at a time, no batching."""
        self.parse_config(user_config)

    @gives_memory_back
    async def run(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        self.require_network()
        job = InpaintParams.parse(params)
        mask = np.asarray(params["mask"])

        def work(on_step: Callable[[float], None]) -> np.ndarray:
            return sd_inpaint.inpaint(self.network, image, mask, **asdict(job), on_step=on_step)

        async for event in in_thread(work, self._gate):
            if "result" in event:
                yield {"image": event["result"], "seed": job.seed}
            else:
                yield event

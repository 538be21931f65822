"""The Generator Serve deployment: FLUX.2 [klein] (deployments/generate/flux2.py), one set of
pipelines per replica, its jobs run one at a time by a Runner (deployments/generate/generation.py)
with step progress and cancellation between steps (deployments/common/stepping.py).

run(image, params): `image` is None for text-to-image, else the first photo (the params and
events: generation.py). Custom models stay loaded for the next jobs.

Text-to-image jobs of one size, steps, guidance and custom model are batched into one
pipeline call (`batching:` in user_config; one image per call unless it says more).

user_config: {offload: bool (model CPU offload, for GPUs smaller than the model), batching}.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve

from deployments.common.batching import Batcher, BatchSettings
from deployments.common.memory import gives_memory_back
from deployments.common.replica import ModelReplica
from deployments.generate import flux2
from deployments.generate.generation import Member, Runner, batch_key, batched
from serve_app.core.catalog import ModelSpec

OPERATION = "generate"


@serve.deployment(name="Generator", max_ongoing_requests=8)
class Generator(ModelReplica):
    operation = OPERATION

    def __init__(self) -> None:
        self._placed = False
        self.batcher = Batcher("Generator", self._run_batch, BatchSettings())
        super().__init__()
        native = self.catalog.specs[self.network_name].sample_px if self.network else 0
        self.runner = Runner(self.network, native or 1024) if self.network else None

    def load(self, spec: ModelSpec, path: Path) -> Any:
        return flux2.load(path, self.device)

    @staticmethod
    def parse_config(user_config: dict[str, Any]) -> tuple[bool, BatchSettings]:
        unknown = set(user_config or {}) - {"offload", "batching"}
        if unknown:
            raise ValueError(f"unknown user_config keys: {sorted(unknown)}")
        offload = bool((user_config or {}).get("offload", False))
        return offload, BatchSettings.parse(user_config, BatchSettings())

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Serve calls this after __init__: the pipelines go to the device here, once (a
        changed `offload` applies to new replicas; batching changes at once)."""
        offload, batching = self.parse_config(user_config)
        self.batcher.configure(batching)
        self._place(offload)

    async def _run_batch(self, members: list[Member]) -> list[None]:
        groups: dict[tuple, list[Member]] = {}
        for member in members:
            groups.setdefault(batch_key(member.params), []).append(member)
        for group in groups.values():
            await asyncio.to_thread(self.runner.run_batch, group)
        return [None] * len(members)

    def _place(self, offload: bool) -> None:
        if self.network is not None and not self._placed:
            flux2.place(self.network, self.device, offload)
            self._placed = True

    @gives_memory_back
    async def run(self, image: np.ndarray | None, params: dict[str, Any]) -> AsyncIterator[dict]:
        self.require_network()
        self._place(offload=False)
        alone = image is not None or batch_key(params) is None
        if alone or self.batcher.settings.max_batch_size == 1:
            events = self.runner.stream(image, params)
        else:
            events = batched(self.batcher, params)
        async for event in events:
            yield event

    def status(self) -> dict[str, Any]:
        return {**super().status(), "config": {"batching": asdict(self.batcher.settings)}}

"""The Segmenter Serve deployment: click-to-mask with Segment Anything.

The image encoder is the expensive part (seconds per photo on a CPU) and depends on the photo
only, so its output is kept in an LRU cache keyed by a hash of the pixels (per customer): a
user clicking several times on one photo, or the erase/inpaint backends asking for the mask of
the photo they are editing, costs one encoder pass. Concurrent requests for the same new photo
wait on a per-photo lock instead of encoding it twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve

from deployments.common.memory import gives_memory_back
from deployments.common.replica import ModelReplica
from serve_app.core.catalog import ModelSpec

log = logging.getLogger("photoserve.segmenter")
OPERATION = "segment"
VARIANTS = {"SAM-vit_b": "vit_b", "SAM-vit_l": "vit_l", "SAM-vit_h": "vit_h"}


@dataclass(frozen=True)
class SegmenterConfig:
    cache_size: int = (
        8  # photo embeddings kept (~8 MB each (image tokens and first-layer keys and values))
    )

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> SegmenterConfig:
        cache_size = int(raw.get("cache_size", cls.cache_size))
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        return cls(cache_size)


class EmbeddingCache:
    """Least recently used first out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str) -> Any | None:
        value = self.entries.get(key)
        if value is not None:
            self.entries.move_to_end(key)
        return value

    def put(self, key: str, value: Any) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        self.resize(self.size)

    def resize(self, size: int) -> None:
        self.size = size
        while len(self.entries) > size:
            self.entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self.entries)


def image_key(image: np.ndarray, scope: str = "") -> str:
    """`scope`: the customer (the dispatcher's `cache_scope`): a first click that came back
    in milliseconds would tell one customer that another sent the same photo lately."""
    digest = hashlib.blake2b(digest_size=16, key=scope.encode()[:64])
    # the shape too: the same bytes as 100x300 and 300x100 are different photos
    digest.update(f"{image.shape}{image.dtype}".encode())
    digest.update(np.ascontiguousarray(image))  # hashed in place: no copy of the pixels
    return digest.hexdigest()


def cache_key(image: np.ndarray, params: dict[str, Any]) -> str:
    """The dispatcher's `cache_key` (a digest of the photo's file, keyed with the account),
    else a digest of the pixels themselves in the customer's `cache_scope`."""
    return params.get("cache_key") or image_key(image, params.get("cache_scope") or "")


@dataclass(frozen=True)
class SegmentParams:
    points: list | None
    box: list | None
    multimask: bool

    @classmethod
    def parse(cls, params: dict[str, Any]) -> SegmentParams:
        points, box = params.get("points") or None, params.get("box")
        return cls(points, box, bool(params.get("multimask", True)))


@serve.deployment(name="Segmenter", max_ongoing_requests=16)
class Segmenter(ModelReplica):
    operation = OPERATION

    def __init__(self) -> None:
        super().__init__()
        self.config = SegmenterConfig()
        self.cache = EmbeddingCache(self.config.cache_size)
        self.locks: dict[str, asyncio.Lock] = {}
        self.encoder_passes = 0

    def load(self, spec: ModelSpec, path: Path) -> Any:
        from deployments.segment import sam

        return sam.load(path, self.device, VARIANTS[spec.arch])

    def unusable(self, spec: ModelSpec) -> str | None:
        return None if spec.arch in VARIANTS else f"unknown architecture {spec.arch}"

    @staticmethod
    def parse_config(user_config: dict[str, Any]) -> SegmenterConfig:
        return SegmenterConfig.parse(user_config or {})

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        self.config = self.parse_config(user_config)
        self.cache.resize(self.config.cache_size)

    def status(self) -> dict[str, Any]:
        return {
            **super().status(),
            "config": asdict(self.config),
            "encoder_passes": self.encoder_passes,
            "cached": len(self.cache),
        }

    async def _embedding(self, image: np.ndarray, key: str):
        """The photo's embedding (`key`: its image_key), from the cache or the encoder."""
        from deployments.segment import sam

        cached = self.cache.get(key)
        if cached is not None:
            return cached
        lock = self.locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                # a request that waited here finds the embedding the first one computed
                cached = self.cache.get(key)
                if cached is None:
                    self.encoder_passes += 1
                    cached = await asyncio.to_thread(sam.embed, self.network, image)
                    self.cache.put(key, cached)
                return cached
        finally:
            # safe to forget the lock while others still wait on it: the embedding is cached
            # before it is released, so a newcomer finds it without taking any lock
            if not lock.locked():
                self.locks.pop(key, None)

    def _prompt(self, image: np.ndarray, params: dict[str, Any]) -> SegmentParams:
        from deployments.segment import sam

        self.require_network()
        prompt = SegmentParams.parse(params)
        # a bad prompt fails before the seconds-long encoder pass
        sam.parse_prompt(prompt.points, prompt.box, (image.shape[0], image.shape[1]))
        return prompt

    async def _predict(self, prompt: SegmentParams, embedding) -> np.ndarray:
        from deployments.segment import sam

        found = await asyncio.to_thread(
            sam.predict, self.network, embedding, prompt.points, prompt.box, prompt.multimask
        )
        return found.astype(np.uint8) * 255

    async def mask(self, image: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        """HxW uint8 mask, 255 = selected (for the erase/inpaint deployments' handles)."""
        prompt = self._prompt(image, params)
        async with self.jobs.job():
            key = cache_key(image, params)
            return await self._predict(prompt, await self._embedding(image, key))

    @gives_memory_back
    async def run(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        prompt = self._prompt(image, params)
        key = cache_key(image, params)
        embedding = self.cache.get(key)
        if embedding is None:  # the encoder's seconds are worth reporting; a click's are not
            yield {"progress": 0.0}
            embedding = await self._embedding(image, key)
            yield {"progress": 0.8}  # the encoder is nearly all of the time
        found = await self._predict(prompt, embedding)
        yield {"image": found}  # HxW, 255 = selected

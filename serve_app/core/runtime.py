"""Everything a request or the dispatcher needs, built once per process.

Per-process listeners that belong to the layers above (billing's account cache, the engine's
job-finished events) are `parts`: made from the runtime on first use and closed with it, so
this module knows none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis

from serve_app.core import clock
from serve_app.core.catalog import Catalog
from serve_app.core.keyspace import KeySpace
from serve_app.core.plans import Plans
from serve_app.core.redis_client import connect
from serve_app.core.scripts import Scripts
from serve_app.core.settings import Settings, check_secrets
from serve_app.core.storage import BlobStore, open_store
from serve_app.core.styles import Styles


class Part(Protocol):
    async def close(self) -> None: ...


P = TypeVar("P", bound=Part)


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    keys: KeySpace
    scripts: Scripts
    blobs: BlobStore
    catalog: Catalog
    plans: Plans
    styles: Styles = field(default_factory=Styles)
    clock: Callable[[], float] = field(default=clock.now)
    _parts: dict[type, Any] = field(default_factory=dict)

    def part(self, kind: Callable[[Runtime], P]) -> P:
        """This process's one `kind(runtime)`, made on first use."""
        found = self._parts.get(kind)
        if found is None:
            found = self._parts[kind] = kind(self)
        return found

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        """Every process of the service makes one: it refuses insecure secrets first."""
        check_secrets(settings)
        redis = connect(settings)
        return cls(
            settings=settings,
            redis=redis,
            keys=KeySpace(settings.redis_prefix),
            scripts=Scripts(redis),
            blobs=open_store(settings.blob_url, settings.blobs),
            catalog=Catalog.load(settings.models_file, settings.user_models_file, settings.weights),
            plans=Plans.load(settings.plans_file),
            styles=Styles.load(settings.styles_dir),
        )

    async def close(self) -> None:
        for part in self._parts.values():
            await part.close()
        self._parts.clear()
        await self.redis.aclose()

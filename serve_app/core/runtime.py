"""Everything a request or the dispatcher needs, built once per process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from serve_app.billing.account_cache import AccountCache
from serve_app.core import clock
from serve_app.core.catalog import Catalog
from serve_app.core.keyspace import KeySpace
from serve_app.core.plans import Plans
from serve_app.core.redis_client import connect
from serve_app.core.scripts import Scripts
from serve_app.core.settings import Settings
from serve_app.core.storage import BlobStore, open_store
from serve_app.engine.events import JobEvents


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    keys: KeySpace
    scripts: Scripts
    blobs: BlobStore
    catalog: Catalog
    plans: Plans
    clock: Callable[[], float] = field(default=clock.now)
    _events: JobEvents | None = None
    _account_cache: AccountCache | None = None

    @property
    def account_cache(self) -> AccountCache:
        if self._account_cache is None:
            self._account_cache = AccountCache(self.redis, self.keys.account_events)
        return self._account_cache

    @property
    def events(self) -> JobEvents:
        if self._events is None:
            self._events = JobEvents(self.redis, self.keys.job_events)
        return self._events

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        redis = connect(settings)
        return cls(
            settings=settings,
            redis=redis,
            keys=KeySpace(settings.redis_prefix),
            scripts=Scripts(redis),
            blobs=open_store(settings.blob_url, settings.blobs),
            catalog=Catalog.load(settings.models_file, settings.user_models_file, settings.weights),
            plans=Plans.load(settings.plans_file),
        )

    async def close(self) -> None:
        for listener in (self._events, self._account_cache):
            if listener is not None:
                await listener.close()
        await self.redis.aclose()

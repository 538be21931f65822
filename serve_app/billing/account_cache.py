"""Key -> account lookups cached briefly in each gateway process.

Every status poll authenticates; keys change rarely. Entries live `TTL_S`; rotating a key,
locking/unlocking an account or changing its plan publishes an invalidation that every
process applies at once (pub/sub), and the process doing the change evicts synchronously.
A lost notification (a reconnect) costs at most TTL_S of staleness.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from redis.exceptions import RedisError

from serve_app.core.pubsub import Subscription
from serve_app.core.runtime import Runtime

TTL_S = 2.0
MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class Cached:
    account_id: str
    plan: str
    locked: bool
    expires: float


class AccountCache:
    """One per process: `rt.part(AccountCache)`."""

    def __init__(self, rt: Runtime, ttl_s: float = TTL_S):
        self.redis = rt.redis
        self.channel = rt.keys.account_events
        self.ttl_s = ttl_s
        self.entries: dict[str, Cached] = {}
        # anything missed while not subscribed is forgotten: entries are rebuilt on demand
        self.subscription = Subscription(
            self.redis, self.channel, self.evict_account, self.entries.clear
        )

    def get(self, key_hash: str) -> Cached | None:
        self.subscription.ensure_running()
        if not self.subscription.subscribed.is_set():
            return None  # not listening for invalidations (yet): do not trust the cache
        entry = self.entries.get(key_hash)
        if entry is None or entry.expires < time.monotonic():
            return None
        return entry

    def put(self, key_hash: str, account_id: str, plan: str, locked: bool) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        expires = time.monotonic() + self.ttl_s
        self.entries[key_hash] = Cached(account_id, plan, locked, expires)

    def evict_account(self, account_id: str) -> None:
        for key_hash in [k for k, v in self.entries.items() if v.account_id == account_id]:
            self.entries.pop(key_hash, None)

    async def invalidate(self, account_id: str) -> None:
        """Forget the account here and tell every other gateway process."""
        self.evict_account(account_id)
        with contextlib.suppress(RedisError, OSError):
            await self.redis.publish(self.channel, account_id)

    async def close(self) -> None:
        await self.subscription.close()

"""One Redis connection pool per process.

redis-py's default pool raises "Too many connections" once a burst passes its limit; the
blocking pool makes callers wait for a free connection instead.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from serve_app.core.settings import Settings


def connect(settings: Settings) -> Redis:
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=20,
        decode_responses=True,
        health_check_interval=30,
    )
    return Redis(connection_pool=pool)

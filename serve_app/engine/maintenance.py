"""Housekeeping the dispatcher runs every few minutes: retention of images, bounded streams,
and forgetting consumers that died with nothing pending."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from serve_app.core.keyspace import Blobs
from serve_app.core.runtime import Runtime

log = logging.getLogger("photoserve.maintenance")
DEAD_CONSUMER_IDLE_MS = 24 * 3600 * 1000


async def sweep_blobs(rt: Runtime) -> dict[str, int]:
    now = rt.clock()
    return {
        "inputs": await rt.blobs.expire(Blobs.INPUTS, now - rt.settings.input_ttl_s),
        "results": await rt.blobs.expire(Blobs.RESULTS, now - rt.settings.result_ttl_s),
        "kept": await rt.blobs.expire(Blobs.KEPT, now - rt.settings.long_result_ttl_s),
    }


async def trim_stream(rt: Runtime, stream: str) -> int:
    """Drop entries every consumer is done with: older than both the oldest pending entry
    and the last one delivered (XTRIM MINID never touches anything newer)."""
    groups = await rt.redis.xinfo_groups(stream)
    group = next((g for g in groups if g["name"] == rt.keys.group), None)
    if group is None:
        return 0
    floor = group["last-delivered-id"]
    pending = await rt.redis.xpending(stream, rt.keys.group)
    if pending["pending"]:
        floor = min(floor, pending["min"], key=_entry_order)
    if floor == "0-0":
        return 0
    return await rt.redis.xtrim(stream, minid=floor, approximate=False)


def _entry_order(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


async def forget_dead_consumers(rt: Runtime, stream: str) -> int:
    forgotten = 0
    for consumer in await rt.redis.xinfo_consumers(stream, rt.keys.group):
        if consumer["pending"] == 0 and consumer["idle"] > DEAD_CONSUMER_IDLE_MS:
            await rt.redis.xgroup_delconsumer(stream, rt.keys.group, consumer["name"])
            forgotten += 1
    return forgotten


async def run_once(rt: Runtime, streams: list[str]) -> None:
    try:
        removed = await sweep_blobs(rt)
        for stream in streams:
            await trim_stream(rt, stream)
            await forget_dead_consumers(rt, stream)
    except (RedisError, OSError) as exc:
        log.warning("maintenance skipped: %s", exc)
        return
    if any(removed.values()):
        log.info("retention: removed %s", removed)

"""Key lookups are cached per process, and a change in one process reaches the others."""

from __future__ import annotations

import asyncio

from serve_app.billing import accounts
from serve_app.billing.account_cache import AccountCache
from serve_app.core.runtime import Runtime
from tests.helpers.runtime import wait_for


async def warm(rt, key):
    await accounts.by_key(rt, key)  # starts the subscription
    await wait_for(lambda: asyncio.sleep(0, rt.part(AccountCache).subscription.subscribed.is_set()))
    return await accounts.by_key(rt, key)


async def test_second_lookup_comes_from_the_cache(rt):
    account_id, key = await accounts.create(rt, 1, "free")
    assert (await warm(rt, key)).id == account_id
    await rt.redis.delete(rt.keys.account(account_id))  # a cache hit does not read Redis
    assert (await accounts.by_key(rt, key)).id == account_id


async def test_a_lock_in_another_process_reaches_this_one_at_once(rt, settings):
    account_id, key = await accounts.create(rt, 1, "free")
    assert not (await warm(rt, key)).locked
    other = Runtime.create(settings)  # another gateway process, same Redis
    try:
        await accounts.update(other, account_id, locked=1)

        async def sees_lock():
            return (await accounts.by_key(rt, key)).locked

        assert await wait_for(sees_lock, timeout_s=2)
    finally:
        await other.close()


async def test_rotation_elsewhere_kills_the_cached_old_key(rt, settings):
    account_id, key = await accounts.create(rt, 1, "free")
    await warm(rt, key)
    other = Runtime.create(settings)
    try:
        new = await accounts.rotate(other, account_id, key)

        async def old_key_dead():
            return await accounts.by_key(rt, key) is None

        assert await wait_for(old_key_dead, timeout_s=2)
        assert (await accounts.by_key(rt, new)).id == account_id
    finally:
        await other.close()


async def test_entries_expire(rt):
    account_id, key = await accounts.create(rt, 1, "free")
    rt.part(AccountCache).ttl_s = 0.05
    await warm(rt, key)
    await rt.redis.hset(rt.keys.account(account_id), "plan", "enterprise")  # behind its back
    await asyncio.sleep(0.1)
    assert (await accounts.by_key(rt, key)).plan == "enterprise"

"""Both blob stores behave the same: a local folder, and S3 spoken over HTTP to an
S3-compatible server (moto's, started on a free port)."""

from __future__ import annotations

import time

import pytest

from serve_app.core.storage import BlobNotFound, LocalBlobStore, open_store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    return (
        LocalBlobStore(tmp_path)
        if request.param == "local"
        else request.getfixturevalue("s3_store")
    )


async def test_put_get_stat_delete(store):
    await store.put("results/a.png", b"data")
    assert await store.get("results/a.png") == b"data"
    stat = await store.stat("results/a.png")
    assert stat.size == 4 and abs(stat.modified - time.time()) < 60
    await store.delete("results/a.png")
    assert await store.stat("results/a.png") is None
    with pytest.raises(BlobNotFound):
        await store.get("results/a.png")
    await store.delete("results/a.png")  # idempotent


async def test_expire_removes_only_old_objects_under_the_prefix(store):
    await store.put("inputs/a.png", b"1")
    await store.put("inputs/b.png", b"2")
    await store.put("results/c.png", b"3")
    assert await store.expire("inputs", time.time() - 3600) == 0
    assert await store.expire("inputs", time.time() + 3600) == 2
    assert await store.stat("inputs/a.png") is None
    assert await store.stat("results/c.png") is not None


@pytest.mark.parametrize("key", ["../escape", "/abs/path", "a/../../b", "", "a b"])
async def test_unsafe_keys_are_refused(store, key):
    with pytest.raises(ValueError):
        await store.put(key, b"x")


def test_local_writes_leave_no_temporary_files(tmp_path):
    import asyncio

    store = LocalBlobStore(tmp_path)
    asyncio.run(store.put("results/a.png", b"data"))
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["a.png"]


def test_open_store_by_url(tmp_path):
    assert isinstance(open_store(None, tmp_path), LocalBlobStore)
    assert open_store(f"file://{tmp_path}/x", tmp_path).root == (tmp_path / "x").resolve()
    with pytest.raises(ValueError):
        open_store("ftp://nowhere", tmp_path)

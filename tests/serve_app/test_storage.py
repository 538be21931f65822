from __future__ import annotations

import pytest

from serve_app.storage import BlobNotFound, LocalBlobStore


async def test_put_get_delete(tmp_path):
    store = LocalBlobStore(tmp_path)
    await store.put("results/a.png", b"data")
    assert await store.get("results/a.png") == b"data"
    assert store.exists("results/a.png")
    assert not [p for p in (tmp_path / "results").iterdir() if p.name.startswith(".tmp")]
    await store.delete("results/a.png")
    with pytest.raises(BlobNotFound):
        await store.get("results/a.png")
    await store.delete("results/a.png")  # idempotent


@pytest.mark.parametrize("key", ["../escape", "/abs/path", "a/../../b", "", "a b"])
def test_unsafe_keys_are_refused(tmp_path, key):
    with pytest.raises(ValueError):
        LocalBlobStore(tmp_path).path(key)

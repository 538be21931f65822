from __future__ import annotations

from serve_app.billing import apikeys


def test_key_shape_and_uniqueness():
    generated = {apikeys.generate_key() for _ in range(200)}
    assert len(generated) == 200
    for key in generated:
        assert key.startswith("ps_") and len(key) == 35
        assert all(c.isalnum() or c in "-_" for c in key[3:])


def test_hash_is_keyed():
    key = apikeys.generate_key()
    assert apikeys.hash_key("secret-a", key) == apikeys.hash_key("secret-a", key)
    assert apikeys.hash_key("secret-a", key) != apikeys.hash_key("secret-b", key)
    assert key not in apikeys.hash_key("secret-a", key)


def test_looks_like_key_refuses_garbage():
    assert not apikeys.looks_like_key("")
    assert not apikeys.looks_like_key("x" * 500)
    assert not apikeys.looks_like_key("bad\nkey")

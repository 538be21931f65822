"""The embedded Redis keeps data across a restart (appendonly), as `make run` relies on."""

from __future__ import annotations

import redis

from serve_app.process.embedded_redis import EmbeddedRedis


def test_data_survives_restart(tmp_path):
    server = EmbeddedRedis(tmp_path).start()
    client = redis.Redis.from_url(server.url)
    client.set("balance", 42)
    client.close()
    port = server.port
    server.stop()
    again = EmbeddedRedis(tmp_path, port=port).start()
    try:
        assert redis.Redis.from_url(again.url).get("balance") == b"42"
    finally:
        again.stop()

"""The Lua scripts that move money and job state atomically, registered once per client.

Scripts that move credits get lua/lib.lua prepended (reserve, capture, release, refresh),
so each movement is written once.
"""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

_DIR = Path(__file__).parent / "lua"
WITH_LIB = ("submit", "complete", "fail", "balance")
PLAIN = ("transition", "grant", "ratelimit", "idem_claim", "idem_abandon", "rotate")


def source(name: str) -> str:
    body = (_DIR / f"{name}.lua").read_text()
    return (_DIR / "lib.lua").read_text() + "\n" + body if name in WITH_LIB else body


class Scripts:
    def __init__(self, redis: Redis):
        for name in WITH_LIB + PLAIN:
            setattr(self, name, redis.register_script(source(name)))

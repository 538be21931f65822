"""The Lua scripts that move money and job state atomically, registered once per client.

Scripts that move credits get lua/lib.lua prepended (reserve, capture, release, refresh),
so each movement is written once.
"""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

_DIR = Path(__file__).parent / "lua"
LIB = "lib"
WITH_LIB = ("submit", "complete", "fail", "balance")
NAMES = tuple(sorted(p.stem for p in _DIR.glob("*.lua") if p.stem != LIB))


def source(name: str) -> str:
    body = (_DIR / f"{name}.lua").read_text()
    return (_DIR / f"{LIB}.lua").read_text() + "\n" + body if name in WITH_LIB else body


class Scripts:
    """One attribute per lua/*.lua file, e.g. `scripts.submit(keys=[...], args=[...])`."""

    def __init__(self, redis: Redis):
        for name in NAMES:
            setattr(self, name, redis.register_script(source(name)))

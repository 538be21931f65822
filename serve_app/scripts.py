"""The Lua scripts that move money and job state atomically, loaded once per connection."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

_DIR = Path(__file__).parent / "lua"
NAMES = ("submit", "transition", "complete", "fail")


class Scripts:
    def __init__(self, redis: Redis):
        for name in NAMES:
            source = (_DIR / f"{name}.lua").read_text()
            setattr(self, name, redis.register_script(source))

"""The Lua scripts that move money and job state atomically, registered once per client.

Scripts that move credits get lua/lib.lua prepended (reserve, capture, release, refresh),
so each movement is written once; the two that rate-limit get lua/window.lua.
"""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

_DIR = Path(__file__).parent / "lua"
# library -> the scripts it is prepended to
LIBS = {
    "lib": ("submit", "complete", "fail", "balance"),
    "window": ("ratelimit", "poll"),
}
NAMES = tuple(sorted(p.stem for p in _DIR.glob("*.lua") if p.stem not in LIBS))


def source(name: str) -> str:
    parts = [(_DIR / f"{lib}.lua").read_text() for lib, users in LIBS.items() if name in users]
    return "\n".join([*parts, (_DIR / f"{name}.lua").read_text()])


class Scripts:
    """One attribute per lua/*.lua file, e.g. `scripts.submit(keys=[...], args=[...])`."""

    def __init__(self, redis: Redis):
        for name in NAMES:
            setattr(self, name, redis.register_script(source(name)))

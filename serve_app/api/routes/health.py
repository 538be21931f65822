from __future__ import annotations

from fastapi import APIRouter
from redis.exceptions import RedisError

from serve_app.api.deps import RuntimeDep
from serve_app.responses import OrjsonResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(rt: RuntimeDep):
    try:
        await rt.redis.ping()
    except (RedisError, OSError):
        return OrjsonResponse({"ok": False, "redis": "unreachable"}, status_code=503)
    return OrjsonResponse({"ok": True, "redis": "ok"})

from __future__ import annotations

from fastapi import APIRouter
from redis.exceptions import RedisError
from starlette.responses import Response

from serve_app.api.deps import LoadedModels, RuntimeDep
from serve_app.api.responses import OrjsonResponse
from serve_app.core import metrics

router = APIRouter(tags=["health"])


async def _redis_ok(rt) -> bool:
    try:
        await rt.redis.ping()
    except (RedisError, OSError):
        return False
    return True


@router.get("/healthz")
async def healthz(rt: RuntimeDep):
    """Liveness: this process answers and reaches Redis."""
    if not await _redis_ok(rt):
        return OrjsonResponse({"ok": False, "redis": "unreachable"}, status_code=503)
    return OrjsonResponse({"ok": True, "redis": "ok"})


@router.get("/readyz")
async def readyz(rt: RuntimeDep, loaded: LoadedModels):
    """Readiness: Redis answers and every model with weights on disk is loaded in a replica.
    Under plain uvicorn (no model deployments) it is the same as /healthz."""
    redis_ok = await _redis_ok(rt)
    waiting = []
    if loaded is not None:
        available = [s.name for s in rt.catalog.specs.values() if rt.catalog.available(s)]
        # None: scaled to zero on purpose (loads on its first request); not a reason to wait
        waiting = [name for name in available if loaded.get(name, False) is False]
    ready = redis_ok and not waiting
    body = {"ok": ready, "redis": "ok" if redis_ok else "unreachable", "waiting_for": waiting}
    return OrjsonResponse(body, status_code=200 if ready else 503)


# every operation with a queue, for the queue gauges
OPERATIONS = (
    "upscale",
    "restore-face",
    "remove-background",
    "segment",
    "erase-object",
    "inpaint",
    "enhance",
)


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(rt: RuntimeDep) -> Response:
    """Prometheus text format: the whole service's counters, histograms and queue gauges
    (kept in Redis), the same on every Ingress replica. Serve's own metrics are on Ray's
    metrics port (README "Deploy")."""
    text = await metrics.render(rt, OPERATIONS)
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

"""Liveness, readiness (per operation) and the Prometheus metrics of the whole service."""

from __future__ import annotations

from fastapi import APIRouter
from redis.exceptions import RedisError
from starlette.responses import Response

from serve_app import operations
from serve_app.api.deps import Fleet, FleetDep, RuntimeDep
from serve_app.api.responses import OrjsonResponse
from serve_app.core import metrics
from serve_app.core.catalog import Catalog
from serve_app.operations import Operation

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


def operation_state(op: Operation, catalog: Catalog, fleet: Fleet) -> str:
    """ready; idle (scaled to zero: starts on its first job); unavailable (no weights here:
    refused with 503, not waited for); starting (its deployment or a model with weights on
    disk is not up yet)."""
    groups = [[s.name for s in catalog.for_operation(g) if catalog.available(s)] for g in op.models]
    if not all(groups):  # a model it needs has no weights here
        return "unavailable"
    on_disk = [name for group in groups for name in group]
    deployment = fleet.deployments.get(fleet.runs.get(op.name, ""), "down")
    if deployment != "up":
        return "idle" if deployment == "idle" else "starting"
    loaded = all(fleet.models.get(name, False) is not False for name in on_disk)
    return "ready" if loaded else "starting"


@router.get("/readyz")
async def readyz(rt: RuntimeDep, fleet: FleetDep):
    """Readiness: Redis answers and every operation that can run here can take a job: its
    deployment answers and its models with weights on disk are loaded (a deployment scaled to
    zero on purpose is not waited for). Under plain uvicorn (no model deployments) it is the
    same as /healthz."""
    redis_ok = await _redis_ok(rt)
    body = {"ok": redis_ok, "redis": "ok" if redis_ok else "unreachable", "waiting_for": []}
    if fleet is not None:
        available = [s.name for s in rt.catalog.specs.values() if rt.catalog.available(s)]
        body["waiting_for"] = [name for name in available if fleet.models.get(name, False) is False]
        ops = operations.all_operations()
        states = {op.name: operation_state(op, rt.catalog, fleet) for op in ops}
        body["operations"] = states
        body["ok"] = redis_ok and not body["waiting_for"] and "starting" not in states.values()
    return OrjsonResponse(body, status_code=200 if body["ok"] else 503)


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(rt: RuntimeDep) -> Response:
    """Prometheus text format: the whole service's counters, histograms and queue gauges
    (kept in Redis), the same on every Ingress replica. Serve's own metrics are on Ray's
    metrics port (README "Deploy")."""
    text = await metrics.render(rt, operations.names())
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

"""Which models this server has, and whether their weights are on disk and loaded."""

from __future__ import annotations

from fastapi import APIRouter

from serve_app.api.deps import FleetDep, RuntimeDep

router = APIRouter(tags=["models"])


@router.get("/v1/models")
async def list_models(rt: RuntimeDep, fleet: FleetDep) -> dict:
    models = []
    for spec in rt.catalog.specs.values():
        models.append(
            {
                "name": spec.name,
                "alias": spec.alias,
                "operation": spec.operation,
                "arch": spec.arch,
                "scale": spec.scale,
                "available": rt.catalog.available(spec),
                "loaded": None if fleet is None else fleet.models.get(spec.name, False),
            }
        )
    return {"ok": True, "models": models}

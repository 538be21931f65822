"""GET /v1/styles/{task}: a styling task's style groups and styles (configs/styles/), and each
style's thumbnail. Public: the catalogs are the server's configuration, not an account's."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import FileResponse

from serve_app.api.deps import RuntimeDep
from serve_app.api.results import base_url
from serve_app.core.errors import NotFound
from serve_app.core.styles import Style

router = APIRouter(tags=["styles"])


def thumb_url(base: str, task: str, style: Style) -> str | None:
    return f"{base.rstrip('/')}/v1/styles/{task}/{style.id}/thumb" if style.thumb else None


def style_view(base: str, task: str, style: Style) -> dict:
    return {
        "id": style.id,
        "title": style.title,
        "thumb": thumb_url(base, task, style),
        "prompt": style.prompt,
        "strength": style.strength,
        "has_reference": style.reference is not None,
    }


@router.get("/v1/styles/{task}")
async def styles(task: str, request: Request, rt: RuntimeDep) -> dict:
    groups = rt.styles.groups(task)
    if not groups:
        raise NotFound(f"No style catalog for {task!r}; these have one: {sorted(rt.styles.tasks)}.")
    base = base_url(request, rt)
    return {
        "ok": True,
        "task": task,
        "groups": [
            {"id": g.id, "title": g.title, "styles": [style_view(base, task, s) for s in g.styles]}
            for g in groups
        ],
    }


@router.get("/v1/styles/{task}/{style_id}/thumb")
async def thumb(task: str, style_id: int, rt: RuntimeDep) -> FileResponse:
    for group in rt.styles.groups(task):
        for style in group.styles:
            if style.id == style_id and style.thumb is not None:
                return FileResponse(style.thumb)
    raise NotFound(f"No thumbnail for style {style_id} of {task!r}.")

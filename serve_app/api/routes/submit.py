"""POST /v1/{operation} for every registered operation: one handler, what differs is the
operation (serve_app/operations/<name>.py), named by the route it came in on.

The handler is a plain module function on purpose: Serve pickles the app into its replica
and FastAPI re-analyses the routes there; a handler made in a function travels by value, its
dependencies' annotations no longer resolve, and `request` comes back as a query parameter
(tests/serve_app/test_app_pickling.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from serve_app import operations
from serve_app.api import submission
from serve_app.api.deps import RuntimeDep, UploadAccount
from serve_app.api.docs import submit_doc
from serve_app.operations import Operation


async def submit_operation(request: Request, account: UploadAccount, rt: RuntimeDep):
    op = operations.get(request.scope["route"].name)
    return await submission.submit(request, rt, account, op)


def router(ops: list[Operation]) -> APIRouter:
    routes = APIRouter(tags=["operations"])
    for op in ops:
        routes.add_api_route(
            f"/v1/{op.name}",
            submit_operation,
            name=op.name,
            methods=["POST"],
            status_code=202,
            summary=op.summary,
            description=op.description,
            openapi_extra=submit_doc(op),
        )
    return routes

"""A toy operation, kept outside the project's packages on purpose: invert the colours, on a
pure-numpy deployment. The e2e session's service loads it with PHOTOSERVE_EXTRA_OPERATIONS
and a plans file that prices it (tests/e2e/conftest.py); tests/e2e/test_toy_operation.py
then finds its route, price check, docs, readiness and a finished job through real Ray Serve.
This file is the whole of what adding an operation takes in code (README "Add an
operation")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from ray import serve

from serve_app.operations import Given, Operation, Output, Plan, boolean

PRICE = 3  # credits, the toy's entry in the plans file


class InvertParams(Output):
    keep_red: boolean("leave the red channel as it is") = False


def plan(params: InvertParams, given: Given) -> Plan:
    job = {"keep_red": params.keep_red, **params.output()}
    job.update(out_width=given.image.width, out_height=given.image.height)
    return Plan(job, given.price(None))


@serve.deployment(name="Invert", num_replicas=1, ray_actor_options={"num_cpus": 0})
class Invert:
    async def run(self, image: np.ndarray, params: dict[str, Any]) -> AsyncIterator[dict]:
        yield {"progress": 0.5}
        inverted = 255 - image
        if params["keep_red"]:
            inverted[..., 0] = image[..., 0]
        yield {"image": inverted}

    def status(self) -> dict[str, Any]:
        return {"loaded": [], "missing": {}}


OPERATION = Operation(
    name="invert",
    summary="Invert the colours (a toy operation)",
    description="Every channel becomes 255 minus itself; `keep_red` leaves red alone.",
    params=InvertParams,
    plan=plan,
    deployment=f"{__name__}:Invert",
)

"""POST /v1/erase-object: remove what a mask covers with big-lama, or what clicks select
(the Segmenter finds the mask first). Only crops around the mask go through LaMa, so the
cost follows the mask, not the photo; every other pixel is unchanged."""

from serve_app.operations import segment
from serve_app.operations._editing import Clicks, masked, masked_plan
from serve_app.operations._operation import Given, Operation, Plan

NAME = "erase-object"


class EraseParams(Clicks):
    pass


def plan(params: EraseParams, given: Given) -> Plan:
    return masked_plan(params, given, OPERATION, segment.OPERATION, {})


OPERATION = Operation(
    name=NAME,
    summary="Erase an object (LaMa), by mask or by clicks",
    description=(
        "Erase what the `mask` covers (white = erase) with LaMa; or give `points`/`box` and "
        "the mask is found with Segment Anything first."
    ),
    params=EraseParams,
    plan=plan,
    deployment="deployments.erase.eraser:Eraser",
    backend=masked,
    models=(NAME,),
    fetch="big-lama",
    takes_mask=True,
)

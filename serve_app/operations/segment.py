"""POST /v1/segment: a mask from clicks with Segment Anything (points and/or a box).

The image encoder is the expensive part and depends on the photo only: the Segmenter keeps
embeddings in an LRU cache, so further clicks on the same photo (and erase/inpaint of it)
cost only the prompt decoder. Free, and synchronous by default: the interactive building
block of erase and inpaint.
"""

from serve_app.engine.backends import ResultKind
from serve_app.operations._editing import Clicks, edit_plan
from serve_app.operations._operation import Given, Operation, Plan
from serve_app.operations._params import boolean

NAME = "segment"


class SegmentParams(Clicks):
    multimask: boolean("pick the best of SAM's three masks") = True


def plan(params: SegmentParams, given: Given) -> Plan:
    clicks = params.prompts(given.image, required=True)
    model = OPERATION.model(given.catalog)
    return edit_plan(params, given, {"model": model, "multimask": params.multimask, **clicks})


OPERATION = Operation(
    name=NAME,
    summary="A mask from clicks (Segment Anything)",
    description=(
        "`points` [[x, y, label], ...] and/or `box` [x0, y0, x1, y1]. Free; clicks on the "
        "same photo reuse its embedding. Synchronous by default: the finished job (or the "
        "mask, with `Accept: image/png`) within 30 s, else 202; `?wait=0` answers 202 at once."
    ),
    params=SegmentParams,
    plan=plan,
    deployment="deployments.segment.segmenter:Segmenter",
    result=ResultKind.MASK,
    models=(NAME,),
    fetch="sam-vit-b",
    default_wait_s=30.0,
)

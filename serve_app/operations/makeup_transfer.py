"""POST /v1/makeup-transfer: the makeup of a reference face (`reference_image`) on the photo's
face: only skin, lips, brows and eyes are repainted by the generator, guided by the
reference, and blended back with a feathered edge (serve_app/operations/_styling.py)."""

from serve_app.core.errors import InvalidParameter
from serve_app.operations._operation import Given, Operation, Plan
from serve_app.operations._params import Output, integer
from serve_app.operations._styling import planner, styled

NAME = "makeup-transfer"
PROMPT = (
    "the same face wearing the makeup of the reference photo: its lipstick, eyeshadow, "
    "eyeliner, blush and brows; same skin, same features"
)


class MakeupParams(Output):
    seed: integer(0, 2**31 - 1) | None = None


_plan = planner(NAME, lambda params: {"prompt": PROMPT, "strength": 0.6})


def plan(params: MakeupParams, given: Given) -> Plan:
    if given.reference is None:
        raise InvalidParameter("Send the face whose makeup to copy as `reference_image`.")
    return _plan(params, given)


OPERATION = Operation(
    name=NAME,
    summary="Copy the makeup of a reference face (face parsing + FLUX.2 [klein])",
    description=(
        "The photo (one person, long side at most 1024 px) and `reference_image` (the face "
        "whose makeup to copy). Only skin, lips, brows and eyes change."
    ),
    params=MakeupParams,
    plan=plan,
    deployment="deployments.faces.face_analyzer:FaceAnalyzer",
    backend=styled,
    models=("face-parsing", "generate"),
    fetch="parsing-bisenet",
    takes_reference=True,
)

"""POST /v1/aging: the same person at another age: face and hair repainted by the generator
inside the region the face parser finds (serve_app/operations/_styling.py), the rest of the
photo the input's. Identity is asked of the prompt; it is not measured here (README)."""

from typing import Literal

from pydantic import Field

from serve_app.operations._operation import Operation
from serve_app.operations._params import Output, integer
from serve_app.operations._styling import planner, styled

NAME = "aging"
AGES = {
    "child": "the same person as a young child, same face shape and features",
    "young": "the same person in their twenties, same features",
    "middle": "the same person in their fifties, fine lines, same features",
    "senior": "the same person in their eighties, wrinkles, gray hair, same features",
}


class AgingParams(Output):
    age_group: Literal["child", "young", "middle", "senior"] = Field(
        "senior", description="child, young (20s), middle (50s) or senior (80s)"
    )
    seed: integer(0, 2**31 - 1) | None = None


def own(params: AgingParams) -> dict:
    return {"age_group": params.age_group, "prompt": AGES[params.age_group], "strength": 0.85}


OPERATION = Operation(
    name=NAME,
    summary="The same person at another age (face parsing + FLUX.2 [klein])",
    description=(
        "One person, long side at most 1024 px; `age_group` child, young, middle or senior "
        "(default). Pixels outside the face and hair are the input's."
    ),
    params=AgingParams,
    plan=planner(NAME, own),
    deployment="deployments.faces.face_analyzer:FaceAnalyzer",
    backend=styled,
    models=("face-parsing", "generate"),
    fetch="parsing-bisenet",
)

"""POST /v1/hair-style: a new hairstyle from a catalog style (configs/styles/hair-style.yaml),
painted by the generator inside the region the face parser finds
(serve_app/operations/_styling.py)."""

from serve_app.operations._operation import Operation
from serve_app.operations._styling import (
    StyledParams,
    catalog_fields,
    planner,
    resolver,
    styled,
)

NAME = "hair-style"

OPERATION = Operation(
    name=NAME,
    summary="A new hairstyle from a style (face parsing + FLUX.2 [klein])",
    description=(
        "One person, long side at most 1024 px; `style_group_id` and `style_id` from "
        "GET /v1/styles/hair-style. Pixels outside the painted region are the input's."
    ),
    params=StyledParams,
    plan=planner(NAME, catalog_fields),
    deployment="deployments.faces.face_analyzer:FaceAnalyzer",
    backend=styled,
    models=("face-parsing", "generate"),
    fetch="parsing-bisenet",
    resolve=resolver(NAME),
)

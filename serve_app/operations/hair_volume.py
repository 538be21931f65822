"""POST /v1/hair-volume: fuller hair from a catalog style (configs/styles/hair-volume.yaml),
painted by the generator inside the region the face parser finds
(serve_app/operations/_styling.py)."""

from serve_app.operations._styling import hair_operation

NAME = "hair-volume"
OPERATION = hair_operation(NAME, "Fuller hair")

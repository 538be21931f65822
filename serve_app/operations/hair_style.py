"""POST /v1/hair-style: a new hairstyle from a catalog style (configs/styles/hair-style.yaml),
painted by the generator inside the region the face parser finds
(serve_app/operations/_styling.py)."""

from serve_app.operations._styling import hair_operation

NAME = "hair-style"
OPERATION = hair_operation(NAME, "A new hairstyle")

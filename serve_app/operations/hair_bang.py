"""POST /v1/hair-bang: bangs from a catalog style (configs/styles/hair-bang.yaml), painted by the
generator inside the region the face parser finds (serve_app/operations/_styling.py)."""

from serve_app.operations._styling import hair_operation

NAME = "hair-bang"
OPERATION = hair_operation(NAME, "Bangs")

"""POST /v1/wig: a wig from a catalog style (configs/styles/wig.yaml), painted by the generator
inside the region the face parser finds (serve_app/operations/_styling.py)."""

from serve_app.operations._styling import hair_operation

NAME = "wig"
OPERATION = hair_operation(NAME, "A wig")

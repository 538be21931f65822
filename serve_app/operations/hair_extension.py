"""POST /v1/hair-extension: longer hair (extensions) from a catalog style
(configs/styles/hair-extension.yaml), painted by the generator inside the region the face
parser finds (serve_app/operations/_styling.py)."""

from serve_app.operations._styling import hair_operation

NAME = "hair-extension"
OPERATION = hair_operation(NAME, "Longer hair (extensions)")

"""The Serve graph is derived from the operation registry: every deployment an operation
names is bound once, after those it uses; every operation gets a lane; a deployment scaled
to zero reports its operations' models idle."""

from __future__ import annotations

from serve_app import app, operations
from serve_app.core.catalog import Catalog
from serve_app.core.settings import CONFIGS


def test_each_deployment_is_bound_once_after_those_it_uses():
    bound = app.bind_models({})
    names = {op.deployment_name for op in operations.all_operations()}
    assert set(bound) == names
    order = list(bound)
    assert order.index("Upscaler") < order.index("FaceRestorer")  # FaceRestorer.uses


def test_models_of_a_deployment_scaled_to_zero_are_idle_not_missing():
    catalog = Catalog.load(CONFIGS / "models.yaml", None, CONFIGS)
    runs = {op.name: op.deployment_name for op in operations.all_operations()}
    assert app.deployment_models(catalog, runs, "Inpainter") == ["sd-inpainting"]
    faces = app.deployment_models(catalog, runs, "FaceRestorer")
    assert set(faces) == {"gfpgan-v1.4", "dlib-face-landmarks-68"}
    assert app.deployment_models(catalog, runs, "Upscaler") == [
        "realesr-animevideov3",
        "realesrgan-x4plus",
        "realesrgan-x4plus-anime",
    ]

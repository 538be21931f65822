"""Planning a face restoration, and the model policy: no weights -> 503 before credits move."""

from __future__ import annotations

import pytest

from serve_app.core.catalog import Catalog
from serve_app.core.errors import InvalidParameter, ModelUnavailable
from serve_app.core.plans import Plans
from serve_app.core.settings import CONFIGS, Settings
from serve_app.engine.images import ImageInfo
from serve_app.operations import restore_face

INFO = ImageInfo("jpg", 512, 384)


@pytest.fixture
def plans():
    return Plans.load(CONFIGS / "plans.yaml")


@pytest.fixture
def with_weights(weights_dir, user_models):
    return Catalog.load(CONFIGS / "models.yaml", user_models, weights_dir)


def make(raw, catalog, plans) -> dict:
    return restore_face.OPERATION.check(raw, INFO, None, catalog, plans, Settings()).params


def test_defaults(with_weights, plans):
    plan = make({}, with_weights, plans)
    assert (plan["fidelity"], plan["max_faces"], plan["scale"], plan["cost"]) == (0.7, 10, 1, 1)
    assert (plan["out_width"], plan["out_height"], plan["background_model"]) == (512, 384, "")


@pytest.mark.parametrize(
    ("raw", "cost", "edge"),
    [
        ({"scale": 2}, 1, 1024),
        ({"scale": "4"}, 2, 2048),
        ({"size": "2K"}, 2, 2560),
        ({"size": "4K"}, 4, 3840),
    ],
)
def test_background_sizes_and_prices(with_weights, plans, raw, cost, edge):
    plan = make(raw, with_weights, plans)
    assert (plan["cost"], plan["out_width"]) == (cost, edge)
    assert plan["background_model"] == "realesr-animevideov3"


@pytest.mark.parametrize(
    "raw",
    [
        {"fidelity": 1.5},
        {"fidelity": "high"},
        {"max_faces": 0},
        {"max_faces": 11},
        {"scale": 3},
        {"output_format": "gif"},
        {"model": "nope", "scale": 2},
    ],
)
def test_bad_parameters(with_weights, plans, raw):
    with pytest.raises(InvalidParameter):
        make(raw, with_weights, plans)


def test_without_gfpgan_weights_the_operation_is_unavailable(weights_dir, plans):
    shipped = Catalog.load(CONFIGS / "models.yaml", None, weights_dir)
    with pytest.raises(ModelUnavailable, match="weights fetch"):
        make({}, shipped, plans)


def test_user_models_file_brings_its_own_weights(with_weights, gfpgan_fixture):
    spec = with_weights.specs["gfpgan-v1.4"]
    assert spec.weights_path(with_weights.weights_dir) == gfpgan_fixture
    assert with_weights.available(spec) and spec.sources[0]["sha256"] is None

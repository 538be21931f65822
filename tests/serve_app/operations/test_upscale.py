"""Checking and planning an upscale: output size, price, model, and the errors for bad
parameters."""

from __future__ import annotations

import pytest

from serve_app.core.catalog import Catalog
from serve_app.core.errors import InvalidParameter, InvalidSize, ModelUnavailable, PixelTooLarge
from serve_app.core.plans import Plans
from serve_app.core.settings import CONFIGS, Settings
from serve_app.engine.images import ImageInfo
from serve_app.operations import upscale

INFO = ImageInfo("png", 640, 480)


@pytest.fixture
def catalog(weights_dir):
    return Catalog.load(CONFIGS / "models.yaml", None, weights_dir)


@pytest.fixture
def plans():
    return Plans.load(CONFIGS / "plans.yaml")


def make(raw, catalog, plans, info=INFO) -> dict:
    plan = upscale.OPERATION.check(raw, info, None, catalog, plans, Settings())
    assert plan.params["cost"] == plan.cost
    return plan.params


def test_defaults_are_fast_x2_png(catalog, plans):
    plan = make({}, catalog, plans)
    assert (plan["model"], plan["scale"], plan["out_width"], plan["out_height"]) == (
        "realesr-animevideov3",
        2,
        1280,
        960,
    )
    assert (plan["output_format"], plan["cost"]) == ("png", 1)


@pytest.mark.parametrize(("scale", "cost"), [(2, 1), ("4", 2), ("x4", 2)])
def test_scale_costs(catalog, plans, scale, cost):
    assert make({"scale": scale}, catalog, plans)["cost"] == cost


@pytest.mark.parametrize(
    ("size", "edge", "cost"),
    [
        ("HD", 1280, 1),
        ("fhd", 1920, 1),
        ("2K", 2560, 2),
        ("4k", 3840, 4),
        ("3840", 3840, 4),
        (2560, 2560, 2),
    ],
)
def test_size_tiers_fit_the_longest_edge(catalog, plans, size, edge, cost):
    plan = make({"size": size}, catalog, plans)
    assert plan["out_width"] == edge
    assert plan["out_height"] == round(480 * edge / 640)
    assert plan["cost"] == cost


def test_portrait_size_fits_height(catalog, plans):
    plan = make({"size": "HD"}, catalog, plans, ImageInfo("jpg", 300, 600))
    assert (plan["out_width"], plan["out_height"]) == (640, 1280)


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("quality", "realesrgan-x4plus"),
        ("anime", "realesrgan-x4plus-anime"),
        ("realesrgan-x4plus", "realesrgan-x4plus"),
    ],
)
def test_models_by_alias_or_name(catalog, plans, alias, name):
    assert make({"model": alias}, catalog, plans)["model"] == name


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"scale": 3}, InvalidParameter),
        ({"scale": "big"}, InvalidParameter),
        ({"size": "8K"}, InvalidSize),
        ({"size": 1000}, InvalidSize),
        ({"size": "HD", "scale": 2}, InvalidParameter),
        ({"model": "bogus"}, InvalidParameter),
        ({"output_format": "gif"}, InvalidParameter),
    ],
)
def test_bad_parameters(catalog, plans, raw, error):
    with pytest.raises(error):
        make(raw, catalog, plans)


def test_size_must_enlarge(catalog, plans):
    with pytest.raises(InvalidSize, match="not larger"):
        make({"size": "HD"}, catalog, plans, ImageInfo("png", 2000, 1000))


def test_output_edge_limit(catalog, plans):
    with pytest.raises(PixelTooLarge):
        make({"scale": 4}, catalog, plans, ImageInfo("png", 2100, 1000))


def test_model_without_weights_is_unavailable(plans, tmp_path):
    empty = Catalog.load(CONFIGS / "models.yaml", None, tmp_path)
    with pytest.raises(ModelUnavailable):
        make({"model": "quality"}, empty, plans)


def test_jpeg_alias(catalog, plans):
    assert make({"output_format": "JPEG"}, catalog, plans)["output_format"] == "jpg"


def test_a_job_that_would_not_fit_in_memory_is_refused_before_credits_move(catalog, plans):
    from serve_app.core.errors import JobTooLarge

    big = ImageInfo("png", 2048, 2048)
    laptop = Settings(job_memory_mb=1400)
    for model in ("quality", "fast"):  # an 8192 px output: 0.8 GB of float32 copies alone
        with pytest.raises(JobTooLarge, match="MB"):
            upscale.OPERATION.check({"model": model, "scale": 4}, big, None, catalog, plans, laptop)
    photo = ImageInfo("png", 1024, 1024)
    fits = upscale.OPERATION.check({"size": "4K"}, photo, None, catalog, plans, laptop)
    assert fits.params["out_width"] == 3840
    unlimited = Settings(job_memory_mb=None)
    upscale.OPERATION.check({"model": "quality", "scale": 4}, big, None, catalog, plans, unlimited)


def test_a_smaller_output_is_estimated_at_its_own_size(catalog):
    """x2 and x1 from a x4 network are stitched at their own size (tiles reduced as they
    arrive): a 2048 px photo at x2 needs what its output needs, not the x4 image."""
    fast = catalog.specs[catalog.find("upscale", "fast").name]
    x4 = upscale.memory_mb(fast, (2048, 2048), (8192, 8192))
    x2 = upscale.memory_mb(fast, (2048, 2048), (4096, 4096))
    x1 = upscale.memory_mb(fast, (2048, 2048), (2048, 2048))
    tiles = fast.work_mb * fast.parallel_tiles  # the blobs of the tiles it runs at once
    assert x1 < x2 and x2 - tiles < (x4 - tiles) / 3
    assert x2 == pytest.approx(tiles + 4 * 3 * 4096**2 * 3 / 2**20)
    odd = upscale.memory_mb(fast, (2048, 2048), (4000, 4000))  # resized from the x4 image
    assert odd > x4 / 2

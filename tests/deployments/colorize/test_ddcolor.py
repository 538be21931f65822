"""DDColor colorization: the authors' checkpoint layout loads at 512 px, the colour is joined
with the photo's own full-resolution lightness (kept within one level in 255), a colour photo
counts by its lightness alone, and the Colorizer deployment batches jobs."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest

from deployments.colorize import ddcolor
from deployments.common.device import plan
from loadtest.photos import photo
from serve_app.core.settings import get_settings
from tests.helpers.model_fixtures import ddcolor as ddcolor_fixture

CPU = plan(2, 0, cuda_available=False)


@pytest.fixture(scope="module")
def ddcolor_file(tmp_path_factory):
    return ddcolor_fixture.build(tmp_path_factory.mktemp("ddcolor"))


@pytest.fixture(scope="module")
def model(ddcolor_file):
    return ddcolor.load(ddcolor_file, CPU)


def gray(image: np.ndarray) -> np.ndarray:
    """The photo as a black-and-white one: its own lightness, no colour."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    lab[..., 1:] = 0
    return np.round(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB) * 255).astype(np.uint8)


def colour_of(model, image: np.ndarray) -> np.ndarray:
    ab = ddcolor.predict(model, ddcolor.preprocess(image)[None], CPU)[0]
    return ddcolor.colorize(image, ab)


def test_the_checkpoint_loads_for_512_px_inputs(model):
    """Built once (spandrel builds for 256 px): the same colours as a copy built for 512."""
    import torch
    from spandrel_extra_arches.architectures.DDColor import DDColor

    assert model.input_size == (512, 512) and model.num_output_channels == 2
    batch = ddcolor.preprocess(photo("coffee", 100))[None]
    assert batch.shape == (1, 3, 512, 512)
    built_for_512 = DDColor(**{**model.hyperparameters, "input_size": (512, 512)}).eval()
    built_for_512.load_state_dict(model.state_dict())
    with torch.inference_mode():
        expected = built_for_512(torch.from_numpy(batch)).numpy()
    np.testing.assert_array_equal(ddcolor.predict(model, batch, CPU), expected)


def test_another_network_is_refused(tmp_path):
    import torch

    torch.save({"params": {"conv.weight": torch.zeros(3, 3, 3, 3)}}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not a DDColor checkpoint"):
        ddcolor.load(tmp_path / "other.pth", CPU)


def test_the_output_keeps_the_size_and_the_lightness(model):
    old = gray(photo("astronaut")[:300, :200])  # not square, not 512
    out = colour_of(model, old)
    assert out.shape == old.shape and out.dtype == np.uint8
    difference = np.abs(ddcolor.lightness(out) - ddcolor.lightness(old)) * 2.55  # 0..255 scale
    assert difference.max() <= 1.0
    assert np.abs(out.astype(int) - old).max() > 0  # and colour was added


def test_a_colour_photo_counts_by_its_lightness_alone(model):
    image = photo("chelsea")[:256, :256]
    # the gray copy's lightness is rounded to 8 bits: one level apart at most
    difference = np.abs(colour_of(model, image).astype(int) - colour_of(model, gray(image)))
    assert difference.max() <= 1


def test_colour_outside_the_gamut_loses_chroma_not_lightness():
    image = gray(photo("coffee", 128))
    loud = np.broadcast_to(np.array([90, -110], np.float32)[:, None, None], (2, 64, 64))
    out = ddcolor.colorize(image, np.ascontiguousarray(loud))
    difference = np.abs(ddcolor.lightness(out) - ddcolor.lightness(image)) * 2.55
    assert difference.max() <= 1.0
    assert np.ptp(out.astype(int), axis=2).mean() > 20  # still strongly coloured


def test_lab_to_rgb_matches_opencv_inside_the_gamut():
    rgb = photo("coffee", 64).astype(np.float32) / 255
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    np.testing.assert_allclose(ddcolor._to_rgb(lab[..., 0], lab[..., 1:]), rgb, atol=3e-3)


# --- the deployment --------------------------------------------------------------------------


@pytest.fixture
def models_env(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    weights.mkdir()
    models = tmp_path / "models.yaml"
    monkeypatch.setenv("PHOTOSERVE_MODELS", str(models))
    monkeypatch.setenv("PHOTOSERVE_WEIGHTS_DIR", str(weights))

    def write(file: str) -> None:
        tiny = "  ddcolor-paper-tiny:\n    file: none.pth\n"
        models.write_text(f"models:\n  ddcolor-modelscope:\n    file: {file}\n{tiny}")
        get_settings.cache_clear()

    get_settings.cache_clear()
    yield write
    get_settings.cache_clear()


@pytest.fixture
def colorizer_class():
    from deployments.colorize.colorizer import Colorizer

    return Colorizer.func_or_class


async def collect(replica, image, params) -> list[dict]:
    return [event async for event in replica.run(image, params)]


async def test_the_deployment_batches_jobs(models_env, colorizer_class, ddcolor_file, model):
    models_env(str(ddcolor_file))
    colorizer = colorizer_class()
    assert colorizer.status()["loaded"] == ["ddcolor-modelscope"]
    shapes = []
    colorizer.network = _Recorder(colorizer.network, shapes)
    colorizer.reconfigure({"batching": {"max_batch_size": 2, "batch_wait_timeout_s": 5.0}})
    first, second = gray(photo("astronaut", 96)), gray(photo("coffee", 80))
    a, b = await asyncio.gather(collect(colorizer, first, {}), collect(colorizer, second, {}))
    assert shapes == [(2, 3, 512, 512)]  # both jobs in one network call
    assert a[-1]["image"].shape == first.shape and b[-1]["image"].shape == second.shape
    alone = colour_of(model, first)
    assert np.abs(a[-1]["image"].astype(int) - alone).max() <= 1  # batching changes nothing


class _Recorder:
    def __init__(self, module, shapes):
        self.module, self.shapes = module, shapes

    def __call__(self, x):
        self.shapes.append(tuple(x.shape))
        return self.module(x)

    def parameters(self):
        return self.module.parameters()


async def test_the_deployment_without_weights_reports_them_missing(models_env, colorizer_class):
    from deployments.common.replica import ModelNotLoaded

    models_env("ddcolor_modelscope.pth")
    colorizer = colorizer_class()
    assert colorizer.status()["loaded"] == []
    assert colorizer.status()["missing"]["ddcolor-modelscope"].startswith("weights not found")
    with pytest.raises(ModelNotLoaded):
        await collect(colorizer, photo("coffee", 64), {})

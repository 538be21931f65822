"""Object erase with big-lama: crops around the mask, a result that leaves everything beyond the
mask's band byte-identical, and the Eraser deployment's loading and status. The network is a
random-initialised big-lama saved as the official TorchScript file: it fills holes with
nonsense, which is all the plumbing needs."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from deployments.common.device import plan
from deployments.erase import lama
from loadtest.photos import photo
from tests.helpers.model_fixtures import lama as lama_fixture

CPU = plan(2, 0, cuda_available=False)


@pytest.fixture(scope="module")
def lama_file(tmp_path_factory):
    return lama_fixture.build(tmp_path_factory.mktemp("lama"))


@pytest.fixture(scope="module")
def model(lama_file) -> lama.LaMaModel:
    return lama.load(lama_file, CPU)


class Recorder:
    """Wraps the network to record the (N, C, H, W) shape of every image it is given."""

    def __init__(self, module) -> None:
        self.module, self.shapes = module, []

    def __call__(self, image, mask):
        self.shapes.append(tuple(image.shape))
        return self.module(image, mask)


def recording(model: lama.LaMaModel) -> tuple[lama.LaMaModel, Recorder]:
    recorder = Recorder(model.module)
    return dataclasses.replace(model, module=recorder), recorder


def blob(shape: tuple[int, int], center: tuple[int, int], axes: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.ellipse(mask, center, axes, 30, 0, 360, 255, -1)
    return mask


def beyond_band(mask: np.ndarray) -> np.ndarray:
    """Pixels surely farther than BAND from the mask (a square dilation holds the round one)."""
    size = 2 * (lama.BAND + 1) + 1
    return cv2.dilate((mask > 0).astype(np.uint8), np.ones((size, size), np.uint8)) == 0


def assert_erased(image: np.ndarray, mask: np.ndarray, out: np.ndarray) -> None:
    assert out.shape == image.shape and out.dtype == np.uint8
    keep = beyond_band(mask)
    assert keep.any() and np.array_equal(out[keep], image[keep])
    changed = np.any(out != image, axis=-1)[mask > 0]
    assert changed.mean() > 0.9


def test_fixture_has_the_official_layout_and_is_detected_as_lama(lama_file):
    import spandrel

    assert lama_file.name == "big-lama.pt"
    state = lama.read_state_dict(lama_file)  # a TorchScript archive, as published
    assert "generator.model.1.bn_l.running_mean" in state
    descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    assert descriptor.architecture.id == "LaMa"
    assert descriptor.size_requirements.multiple_of == lama.MULTIPLE


def test_erase_changes_the_mask_and_nothing_beyond_its_band(model):
    image = photo("astronaut", size=256)
    mask = blob((256, 256), (150, 110), (30, 18))
    out = lama.erase(model, image, mask)
    assert_erased(image, mask, out)
    # the band is feathered: some pixels just outside the mask are blends, not the input
    ring = ~beyond_band(mask) & (mask == 0)
    assert np.any(out[ring] != image[ring])


def test_small_mask_in_a_large_photo_runs_on_a_small_crop(model):
    image = cv2.resize(photo("chelsea"), (1024, 768), interpolation=cv2.INTER_AREA)
    mask = blob((768, 1024), (600, 400), (14, 10))
    recorded, recorder = recording(model)
    out = lama.erase(recorded, image, mask)
    assert len(recorder.shapes) == 1
    _, channels, height, width = recorder.shapes[0]
    assert channels == 3 and height <= 256 and width <= 256
    assert height % lama.MULTIPLE == 0 and width % lama.MULTIPLE == 0
    assert_erased(image, mask, out)


def test_regions_far_apart_get_a_crop_each_and_close_ones_share_one():
    far = blob((768, 1024), (100, 100), (10, 10)) | blob((768, 1024), (900, 650), (10, 10))
    boxes = lama.crop_boxes(far)
    assert len(boxes) == 2
    assert all((b.x1 - b.x0) * (b.y1 - b.y0) < 200 * 200 for b in boxes)
    near = blob((768, 1024), (400, 400), (10, 10)) | blob((768, 1024), (460, 400), (10, 10))
    (box,) = lama.crop_boxes(near)
    assert box.x0 < 390 and box.x1 > 470


def test_far_apart_regions_are_each_erased(model):
    image = photo("coffee", size=256)
    mask = blob((256, 256), (30, 30), (8, 8)) | blob((256, 256), (220, 220), (8, 8))
    recorded, recorder = recording(model)
    out = lama.erase(recorded, image, mask)
    assert len(recorder.shapes) == 2
    assert_erased(image, mask, out)


def test_a_crop_longer_than_max_side_is_shrunk_for_inference(model):
    image = photo("astronaut", size=256)
    mask = blob((256, 256), (128, 128), (90, 60))
    recorded, recorder = recording(model)
    out = lama.erase(recorded, image, mask, max_side=96)
    assert max(recorder.shapes[0][2:]) <= 96
    assert_erased(image, mask, out)


def test_a_mask_touching_the_border(model):
    image = photo("chelsea", size=200)
    mask = np.zeros((200, 200), np.uint8)
    mask[:30, :45] = 1  # the top-left corner
    mask[120:170, 185:] = 1  # the right edge
    out = lama.erase(model, image, mask)
    assert_erased(image, mask, out)


def test_odd_tiny_image_is_padded_to_what_lama_needs(model):
    image = photo("camera", size=13)
    mask = np.zeros((13, 13), np.uint8)
    mask[4:8, 5:9] = 1
    recorded, recorder = recording(model)
    out = lama.erase(recorded, image, mask)
    assert recorder.shapes == [(1, 3, 16, 16)]
    assert out.shape == image.shape


def test_a_mask_of_another_size_is_refused(model):
    with pytest.raises(ValueError):
        lama.erase(model, photo("camera", size=64), np.ones((32, 32), np.uint8))


# ---- the Eraser deployment ----


@pytest.fixture
def settings_env(monkeypatch, tmp_path):
    from serve_app.core.settings import get_settings

    # what Serve would assign; asking Ray outside a replica would start a local Ray
    monkeypatch.setattr("deployments.common.replica.replica_resources", lambda: (2.0, 0.0))

    def configure(weights_file: str) -> None:
        models = tmp_path / "models.yaml"
        models.write_text(
            "models:\n  big-lama:\n    operation: erase-object\n    arch: LaMa\n"
            f"    file: {weights_file}\n"
            "    sources: [{kind: url, url: 'https://example.invalid/big-lama.pt', "
            "sha256: null}]\n"
        )
        monkeypatch.setenv("PHOTOSERVE_MODELS", str(models))
        monkeypatch.setenv("PHOTOSERVE_WEIGHTS_DIR", str(tmp_path / "weights"))
        get_settings.cache_clear()

    yield configure
    get_settings.cache_clear()


def eraser():
    from deployments.erase.eraser import Eraser

    return Eraser.func_or_class()


async def collect(replica, image, params) -> list[dict]:
    return [event async for event in replica.run(image, params)]


async def test_eraser_loads_big_lama_and_erases(settings_env, lama_file):
    settings_env(str(lama_file))
    replica = eraser()
    assert replica.status()["loaded"] == ["big-lama"]
    assert replica.status()["missing"] == {} and replica.status()["device"] == "cpu"
    replica.reconfigure({"max_side": 64})
    replica.network, recorder = recording(replica.network)
    image = photo("coffee", size=256)
    mask = blob((256, 256), (25, 25), (10, 8)) | blob((256, 256), (230, 230), (10, 10))
    events = await collect(replica, image, {"mask": mask})
    progress = [e["progress"] for e in events[:-1]]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert set(events[-1]) == {"image"}
    assert_erased(image, mask, events[-1]["image"])
    assert len(recorder.shapes) == 2 and all(max(s[2:]) <= 64 for s in recorder.shapes)
    with pytest.raises(ValueError):
        await collect(replica, image, {"mask": np.zeros((256, 256), np.uint8)})


async def test_eraser_without_weights_reports_missing(settings_env):
    from deployments.common.replica import ModelNotLoaded

    settings_env("big-lama.pt")
    replica = eraser()
    status = replica.status()
    assert status["loaded"] == []
    assert status["missing"]["big-lama"].startswith("weights not found")
    image = photo("coffee", size=64)
    with pytest.raises(ModelNotLoaded):
        await collect(replica, image, {"mask": np.ones((64, 64), np.uint8)})

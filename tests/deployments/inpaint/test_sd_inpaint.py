"""Stable Diffusion inpainting on a tiny random-initialised pipeline of the real classes
(tests/helpers/model_fixtures/sd_inpaint.py): crop planning, paste-back that leaves unmasked pixels
alone, seeded determinism, honest step progress, and the Inpainter deployment's plumbing."""

from __future__ import annotations

import asyncio
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from deployments.common import crops
from deployments.common.replica import ModelNotLoaded
from deployments.inpaint import sd_inpaint
from loadtest.photos import photo
from serve_app.core.settings import get_settings
from tests.helpers.model_fixtures import sd_inpaint as fixture

SIZE = 128
PROMPT = "a red woollen hat, studio photo"


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fixture.build(tmp_path_factory.mktemp("sd") / "stable-diffusion-inpainting")


@pytest.fixture(scope="module")
def pipe(pipeline_dir):
    from deployments.common import device

    return sd_inpaint.load(pipeline_dir, device.configure(0, 0))


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return photo("astronaut", size=SIZE)


@pytest.fixture(scope="module")
def mask() -> np.ndarray:
    """An ellipse over the astronaut's face: a non-rectangular edge."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(mask, (62, 40), (18, 22), 15, 0, 360, 255, -1)
    return mask


def inpaint(pipe, image, mask, seed=1, steps=4, strength=1.0, cfg=7.0, on_step=None):
    return sd_inpaint.inpaint(
        pipe, image, mask, PROMPT, "blurry", steps, cfg, strength, seed, on_step
    )


@pytest.fixture(scope="module")
def repainted(pipe, astronaut, mask) -> tuple[np.ndarray, list[float]]:
    """One full run (4 steps, strength 1, CFG on): the output and the progress it reported."""
    seen: list[float] = []
    return inpaint(pipe, astronaut, mask, on_step=seen.append), seen


def test_fixture_is_the_official_layout_and_loads_offline(pipeline_dir, pipe):
    assert (pipeline_dir / "unet" / "diffusion_pytorch_model.fp16.safetensors").is_file()
    assert (pipeline_dir / "tokenizer" / "vocab.json").is_file()
    assert not (pipeline_dir / "tokenizer" / "tokenizer.json").exists()
    assert not (pipeline_dir / "safety_checker").exists()  # named in model_index.json, not fetched
    assert type(pipe).__name__ == "StableDiffusionInpaintPipeline"
    assert pipe.unet.config.in_channels == 9
    assert pipe.unet.dtype.is_floating_point and pipe.unet.dtype.itemsize == 4  # fp32 on CPU
    assert pipe.safety_checker is None and pipe.feature_extractor is None
    ids = pipe.tokenizer("Zürich at night, ünïcode ☃ & emojis 🙂").input_ids
    assert ids[0] == pipe.tokenizer.bos_token_id and ids[-1] == pipe.tokenizer.eos_token_id
    assert pipe.tokenizer.unk_token_id not in ids[1:-1]  # byte-level: every character encodes


def test_crop_scales_the_mask_region_to_the_native_resolution():
    mask = np.zeros((1000, 1500), np.uint8)
    mask[400:460, 700:740] = 1
    crop = crops.plan_crop(mask, 512)
    assert crop.x0 <= 700 - 32 and crop.x1 >= 740 + 32
    assert crop.y0 <= 400 - 32 and crop.y1 >= 460 + 32
    width, height = crop.work
    assert max(crop.work) == 512 and width % 8 == 0 and height % 8 == 0
    assert abs(width / height - (crop.x1 - crop.x0) / (crop.y1 - crop.y0)) < 0.05
    assert max(crop.size) / min(crop.size) <= crops.MAX_ASPECT + 0.01


def test_crop_of_a_sliver_is_widened_and_stays_inside_the_image():
    mask = np.zeros((300, 2000), np.uint8)
    mask[290:300, 100:1900] = 1  # a thin strip along the bottom edge
    crop = crops.plan_crop(mask, 512)
    assert (crop.x0, crop.x1) == (0, 2000)
    assert crop.y1 == 300 and crop.y1 - crop.y0 == 300  # the whole height: the most there is
    assert crop.work == (512, 80)


def test_inpaint_repaints_the_mask_and_leaves_the_rest_untouched(pipe, astronaut, mask, repainted):
    out, _ = repainted
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    crop = crops.plan_crop(mask, sd_inpaint.native_size(pipe))
    distance = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, 5)
    outside = distance >= crop.feather
    assert outside.mean() > 0.7
    assert (out[outside] == astronaut[outside]).all()
    changed = (out != astronaut).any(axis=2)
    assert changed[mask > 0].mean() > 0.95
    assert (mask == 0).sum() > 0 and changed[(mask == 0) & ~outside].any()  # the feather band


def test_steps_report_progress_up_to_one(pipe, astronaut, mask, repainted):
    assert repainted[1] == [0.25, 0.5, 0.75, 1.0]
    assert sd_inpaint.effective_steps(4, 1.0) == 4
    seen: list[float] = []
    inpaint(pipe, astronaut, mask, strength=0.5, on_step=seen.append)
    assert seen == [0.5, 1.0]  # strength 0.5 skips the first half of the schedule
    assert len(seen) == sd_inpaint.effective_steps(4, 0.5)


def test_progress_ends_at_one_with_a_multistep_scheduler(pipe, astronaut, mask):
    """PNDM (PLMS) runs one more model call than steps: fractions still count what runs."""
    from diffusers import PNDMScheduler

    original = pipe.scheduler
    pipe.scheduler = PNDMScheduler.from_config(original.config, skip_prk_steps=True)
    try:
        seen: list[float] = []
        inpaint(pipe, astronaut, mask, steps=2, cfg=1.0, on_step=seen.append)
    finally:
        pipe.scheduler = original
    assert seen == [1 / 3, 2 / 3, 1.0]


def test_same_seed_same_image_other_seed_other_image(pipe, astronaut, mask):
    first = inpaint(pipe, astronaut, mask, seed=7, steps=2, cfg=1.0)
    assert np.array_equal(first, inpaint(pipe, astronaut, mask, seed=7, steps=2, cfg=1.0))
    other = inpaint(pipe, astronaut, mask, seed=8, steps=2, cfg=1.0)
    assert not np.array_equal(first, other)


def test_impossible_input_fails_clearly(pipe, astronaut, mask):
    with pytest.raises(ValueError, match="empty"):
        inpaint(pipe, astronaut, np.zeros_like(mask))
    with pytest.raises(ValueError, match="mask"):
        inpaint(pipe, astronaut, mask[:64])
    with pytest.raises(ValueError, match="no denoising step"):
        inpaint(pipe, astronaut, mask, steps=4, strength=0.2)


def models_file(directory: Path, file: str) -> Path:
    path = directory / "models.yaml"
    path.write_text(
        "models:\n  sd-inpainting:\n    operation: inpaint\n"
        f"    arch: StableDiffusionInpaintPipeline\n    file: {file}\n"
        "    sources: [{kind: hf-snapshot, repo: example/invalid, sha256: null}]\n"
    )
    return path


@pytest.fixture
def inpainter_env(tmp_path, monkeypatch):
    def point_at(file: str) -> None:
        monkeypatch.setenv("PHOTOSERVE_MODELS", str(models_file(tmp_path, file)))
        monkeypatch.setenv("PHOTOSERVE_WEIGHTS_DIR", str(tmp_path / "weights"))
        get_settings.cache_clear()

    yield point_at
    get_settings.cache_clear()


@pytest.fixture
def inpainter(inpainter_env, pipeline_dir):
    from deployments.inpaint.inpainter import Inpainter

    inpainter_env(str(pipeline_dir))
    return Inpainter.func_or_class()


async def collect(inpainter, image, params) -> list[dict]:
    return [event async for event in inpainter.run(image, params)]


async def test_deployment_streams_progress_then_the_image(inpainter, astronaut, mask):
    assert inpainter.status()["loaded"] == ["sd-inpainting"]
    assert inpainter.status()["missing"] == {}
    params = {"prompt": PROMPT, "mask": mask, "steps": 4, "strength": 0.5, "seed": 3}
    events = await collect(inpainter, astronaut, params)
    assert [e["progress"] for e in events[:-1]] == [0.5, 1.0]
    final = events[-1]
    assert final["seed"] == 3 and final["image"].shape == astronaut.shape
    assert (final["image"] != astronaut).any(axis=2)[mask > 0].mean() > 0.95


async def test_deployment_picks_and_reports_a_seed(inpainter, astronaut, mask, monkeypatch):
    from deployments.inpaint import inpainter as module

    seeds = []

    def fake(pipe, image, mask, *, seed, on_step, **_):
        seeds.append(seed)
        on_step(1.0)
        return image

    monkeypatch.setattr(module.sd_inpaint, "inpaint", fake)
    events = await collect(inpainter, astronaut, {"prompt": "", "mask": mask})
    assert events[0] == {"progress": 1.0}
    assert isinstance(events[-1]["seed"], int) and events[-1]["seed"] == seeds[0]


async def test_a_cancelled_request_stops_denoising(inpainter, astronaut, mask, monkeypatch):
    """Progress arrives while the thread runs; closing the stream stops it at the next step
    and frees the pipeline for the next request."""
    from deployments.inpaint import inpainter as module

    steps_run = []

    def slow(pipe, image, mask, *, steps, on_step, **_):
        for step in range(steps):
            steps_run.append(step)
            on_step((step + 1) / steps)
            time.sleep(0.02)
        return image

    monkeypatch.setattr(module.sd_inpaint, "inpaint", slow)
    stream = inpainter.run(astronaut, {"prompt": "x", "mask": mask, "steps": 200})
    assert await anext(stream) == {"progress": 0.005}
    await stream.aclose()
    params = {"prompt": "x", "mask": mask, "steps": 2}
    events = await asyncio.wait_for(collect(inpainter, astronaut, params), 5)
    assert [e.get("progress") for e in events[:-1]] == [0.5, 1.0]
    assert len(steps_run) - 2 < 20  # the cancelled call gave up after a step or two, not 200


async def test_without_weights_the_model_is_missing(inpainter_env, astronaut, mask):
    from deployments.inpaint.inpainter import Inpainter

    inpainter_env("stable-diffusion-inpainting")
    inpainter = Inpainter.func_or_class()
    status = inpainter.status()
    assert status["loaded"] == [] and status["device"] == "cpu"
    assert status["missing"]["sd-inpainting"].startswith("weights not found: ")
    with pytest.raises(ModelNotLoaded):
        await anext(inpainter.run(astronaut, {"prompt": "x", "mask": mask}))


async def test_deployment_raises_on_an_impossible_request(inpainter, astronaut, mask):
    with pytest.raises(ValueError, match="empty"):
        await collect(inpainter, astronaut, {"prompt": "x", "mask": np.zeros_like(mask)})
    with pytest.raises(ValueError, match="prompt"):
        await collect(inpainter, astronaut, {"mask": mask})

"""FLUX.2 [klein] on a tiny random-initialised pipeline of the real classes
(tests/helpers/model_fixtures/flux2_klein.py): text-to-image, one- and two-photo edits and the
masked edit at the sizes asked for, seeds that reproduce, step progress, and the Generator
deployment's plumbing (placement, cancellation between steps, a missing model)."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import numpy as np
import pytest

from deployments.common import device
from deployments.common.replica import ModelNotLoaded
from deployments.generate import flux2
from loadtest.photos import photo
from serve_app.core.settings import get_settings
from tests.helpers.model_fixtures import flux2_klein as fixture

PROMPT = "a ceramic mug on a wooden table, studio light"


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fixture.build(tmp_path_factory.mktemp("flux"))


@pytest.fixture(scope="module")
def pipes(pipeline_dir):
    config = device.configure(0, 0)
    loaded = flux2.load(pipeline_dir, config)
    flux2.place(loaded, config, offload=False)
    return loaded


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    return photo("coffee", 96)[:72]  # 96x72


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return photo("astronaut", 80)


def job(seed=1, width=96, height=64, steps=2, prompt=PROMPT) -> flux2.Generation:
    return flux2.Generation(prompt, width, height, steps, 1.0, seed)


def test_fixture_is_the_diffusers_layout_and_loads_offline(pipeline_dir, pipes):
    for part in ("model_index.json", "transformer/config.json", "text_encoder/config.json"):
        assert (pipeline_dir / part).is_file(), part
    assert type(pipes.text).__name__ == "Flux2KleinPipeline"
    assert type(pipes.masked).__name__ == "Flux2KleinInpaintPipeline"
    # one set of weights: the masked edit runs on the same modules
    assert pipes.masked.transformer is pipes.text.transformer


def test_text_to_image_has_the_size_asked_for_and_reports_each_step(pipes):
    steps = []
    image = flux2.generate(pipes, job(steps=4), [], steps.append)
    assert image.shape == (64, 96, 3) and image.dtype == np.uint8
    assert steps == [0.25, 0.5, 0.75, 1.0]


def test_same_seed_same_image_other_seed_or_prompt_other_image(pipes):
    first = flux2.generate(pipes, job(seed=5), [])
    assert np.array_equal(first, flux2.generate(pipes, job(seed=5), []))
    assert not np.array_equal(first, flux2.generate(pipes, job(seed=6), []))
    assert not np.array_equal(first, flux2.generate(pipes, job(seed=5, prompt="a dog"), []))


def test_one_and_two_reference_photos_condition_the_image(pipes, coffee, astronaut):
    alone = flux2.generate(pipes, job(), [])
    one = flux2.generate(pipes, job(), [coffee])
    two = flux2.generate(pipes, job(), [coffee, astronaut])
    assert one.shape == two.shape == alone.shape
    assert not np.array_equal(one, alone) and not np.array_equal(two, one)
    assert np.array_equal(two, flux2.generate(pipes, job(), [coffee, astronaut]))


def test_masked_edit_with_a_reference_runs_at_the_working_size(pipes, coffee, astronaut):
    mask = np.zeros(coffee.shape[:2], np.uint8)
    mask[20:50, 30:70] = 255
    steps = []
    out = flux2.inpaint(
        pipes, job(height=64), coffee[:64], mask[:64], [astronaut], 0.9, steps.append
    )
    assert out.shape == (64, 96, 3) and steps[-1] == 1.0


def test_sizes_off_the_grid_are_refused(pipes):
    with pytest.raises(ValueError, match="multiples of 16"):
        flux2.generate(pipes, job(width=100), [])


@pytest.fixture
def generator_env(tmp_path, monkeypatch):
    def point_at(file: str) -> None:
        models = tmp_path / "models.yaml"
        models.write_text(
            f"models:\n  flux2-klein-4b:\n    file: {file}\n    sample_px: {fixture.SAMPLE_PX}\n"
        )
        monkeypatch.setenv("PHOTOSERVE_MODELS", str(models))
        monkeypatch.setenv("PHOTOSERVE_WEIGHTS_DIR", str(tmp_path / "weights"))
        get_settings.cache_clear()

    yield point_at
    get_settings.cache_clear()


@pytest.fixture
def generator(generator_env, pipeline_dir):
    from deployments.generate.generator import Generator

    generator_env(str(pipeline_dir))
    replica = Generator.func_or_class()
    replica.reconfigure({"offload": False})
    return replica


def params(**extra) -> dict:
    base = {"prompt": PROMPT, "work_width": 64, "work_height": 64, "steps": 2, "guidance": 1.0}
    return {**base, "seed": 9, **extra}


async def collect(replica, image, job_params) -> list[dict]:
    return [event async for event in replica.run(image, job_params)]


async def test_deployment_streams_progress_then_the_image_and_its_seed(generator, coffee):
    assert generator.status()["loaded"] == ["flux2-klein-4b"]
    events = await collect(generator, None, params())
    assert [e["progress"] for e in events[:-1]] == [0.5, 1.0]
    assert events[-1]["seed"] == 9 and events[-1]["image"].shape == (64, 64, 3)
    edited = await collect(generator, coffee, params(reference=photo("astronaut", 80)))
    assert edited[-1]["image"].shape == (64, 64, 3)
    assert not np.array_equal(edited[-1]["image"], events[-1]["image"])


async def test_a_cancelled_request_stops_between_steps(generator):
    """Closing the stream stops the denoising loop at the next step and frees the pipeline
    for the next request (the transformer's calls are counted)."""
    calls = []
    hook = generator.network.text.transformer.register_forward_hook(lambda *a: calls.append(1))
    try:
        stream = generator.run(None, params(steps=50))
        assert await anext(stream) == {"progress": 0.02}
        await stream.aclose()
        events = await asyncio.wait_for(collect(generator, None, params()), 30)
    finally:
        hook.remove()
    assert [e.get("progress") for e in events[:-1]] == [0.5, 1.0]
    assert len(calls) - 2 < 10  # the cancelled call gave up after a step or two, not 50


async def test_without_weights_the_model_is_missing(generator_env):
    from deployments.generate.generator import Generator

    generator_env("flux2-klein-4b")
    replica = Generator.func_or_class()
    replica.reconfigure({})
    assert replica.status()["missing"]["flux2-klein-4b"].startswith("weights not found: ")
    with pytest.raises(ModelNotLoaded):
        await anext(replica.run(None, params()))


def test_offload_and_batching_are_the_settings():
    from deployments.common.batching import BatchSettings
    from deployments.generate.generator import Generator

    parse = Generator.func_or_class.parse_config
    assert parse({"offload": True}) == (True, BatchSettings())
    batching = {"max_batch_size": 4, "batch_wait_timeout_s": 0.05}
    assert parse({"batching": batching}) == (False, BatchSettings(**batching))
    with pytest.raises(ValueError, match="unknown"):
        parse({"offlaod": True})


async def test_text_jobs_of_one_size_share_a_pipeline_call(generator):
    """Three concurrent text-to-image jobs of one size: one pipeline call with a batch of 3
    (the transformer's inputs counted), each its own seed's image, the same as alone; a job
    of another size runs in its own call."""
    alone = [(await collect(generator, None, params(seed=s)))[-1]["image"] for s in (1, 2)]
    generator.reconfigure({"batching": {"max_batch_size": 4, "batch_wait_timeout_s": 0.5}})
    batches = []
    hook = generator.network.text.transformer.register_forward_hook(
        lambda module, args, kwargs, out: batches.append(kwargs["hidden_states"].shape[0]),
        with_kwargs=True,
    )
    try:
        asked = [params(seed=1), params(seed=2), params(seed=3), params(seed=4, work_width=128)]
        runs = await asyncio.gather(*(collect(generator, None, p) for p in asked))
    finally:
        hook.remove()
    assert sorted(batches) == [1, 1, 3, 3]  # two steps of the batch of 3, two of the other
    assert [e["progress"] for e in runs[0][:-1]] == [0.5, 1.0]
    assert np.array_equal(runs[0][-1]["image"], alone[0])
    assert np.array_equal(runs[1][-1]["image"], alone[1])
    assert runs[3][-1]["image"].shape == (64, 128, 3) and runs[2][-1]["seed"] == 3
    assert generator.status()["config"]["batching"]["max_batch_size"] == 4


def test_the_masked_pipeline_keeps_the_models_dtype(pipeline_dir):
    """diffusers' from_pipe casts shared modules to float32 unless told otherwise: a bf16 GPU
    replica would hold 32 GB instead of 16 (seen on an H200)."""
    import torch
    from diffusers import Flux2KleinPipeline

    text = Flux2KleinPipeline.from_pretrained(pipeline_dir, dtype=torch.bfloat16)
    pipes = flux2.with_masked(text, torch.bfloat16)
    for module in (pipes.text.transformer, pipes.masked.text_encoder, pipes.text.vae):
        assert next(module.parameters()).dtype == torch.bfloat16


async def test_a_custom_model_changes_its_own_jobs_only_and_stays_loaded(generator, pipeline_dir):
    lora, sha = fixture.lora(pipeline_dir), "ab" * 32
    base = (await collect(generator, None, params()))[-1]["image"]
    styled = (await collect(generator, None, params(lora=lora, lora_sha256=sha)))[-1]["image"]
    after = (await collect(generator, None, params()))[-1]["image"]
    assert not np.array_equal(base, styled) and np.array_equal(base, after)
    again = (await collect(generator, None, params(lora=lora, lora_sha256=sha)))[-1]["image"]
    assert np.array_equal(again, styled) and list(generator.runner.adapters.loaded) == [
        f"lora_{sha[:16]}"
    ]


def test_adapters_past_the_limit_are_deleted(pipes, pipeline_dir):
    adapters = flux2.Adapters(keep=1)
    for seed, sha in ((1, "1" * 64), (2, "2" * 64)):
        adapters.use(pipes, fixture.lora(pipeline_dir, seed=seed), sha)
    assert list(adapters.loaded) == ["lora_" + "2" * 16]
    assert pipes.text.get_list_adapters()["transformer"] == ["lora_" + "2" * 16]
    adapters.use(pipes, None, None)
    pipes.text.delete_adapters(["lora_" + "2" * 16])


def test_the_masked_edit_repaints_the_mask_only_at_the_input_size(pipes, astronaut):
    photo_ = np.ascontiguousarray(np.concatenate([astronaut, astronaut], axis=1))  # 160x80
    mask = np.zeros(photo_.shape[:2], np.uint8)
    mask[30:50, 100:130] = 255
    steps = []
    out = flux2.masked_edit(pipes, job(), photo_, mask, [astronaut], 1.0, 64, steps.append)
    assert out.shape == photo_.shape and steps[-1] == 1.0
    assert (out != photo_).any(axis=2)[mask > 0].mean() > 0.9
    far = np.ones(mask.shape, bool)
    far[15:65, 85:145] = False  # the mask and its feathered edge (12 px at this scale)
    assert np.array_equal(out[far], photo_[far])
    with pytest.raises(ValueError, match="empty"):
        flux2.masked_edit(pipes, job(), photo_, np.zeros_like(mask), [], 1.0, 64)

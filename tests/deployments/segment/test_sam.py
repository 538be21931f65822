"""Segment Anything: the official vit_b architecture with random weights (plumbing only: the
masks mean nothing, their sizes, caching and coordinates do).

The vit_b encoder takes seconds per photo here, so the module runs it exactly once, on a
non-square real photo; the deployment's cache tests swap in an encoder that reuses those
features, sized for whichever photo it is given, and count the deployment's calls.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deployments.common.device import plan
from deployments.common.replica import ModelNotLoaded
from deployments.segment import sam
from loadtest.photos import photo
from serve_app.core.settings import get_settings
from tests.helpers.model_fixtures import sam as sam_fixture

CPU = plan(2, 0, cuda_available=False)
URL = "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return sam_fixture.build(tmp_path_factory.mktemp("sam"))


@pytest.fixture(scope="module")
def model(checkpoint) -> sam.SamModel:
    return sam.load(checkpoint, CPU)


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    """A real photo, wider than tall, small."""
    return np.asarray(Image.fromarray(photo("coffee")).resize((200, 150), Image.Resampling.LANCZOS))


@pytest.fixture(scope="module")
def coffee_features(model, coffee):
    return sam.encode(model, coffee)[0]  # the module's one real encoder pass


@pytest.fixture(scope="module")
def coffee_embedding(model, coffee, coffee_features) -> sam.Embedding:
    return sam.embedding(model, coffee_features, coffee.shape[:2], (768, 1024))


def small(name: str, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(photo(name)).resize((width, height)))


def models_file(directory: Path, file: str) -> Path:
    path = directory / "models.yaml"
    path.write_text(
        "models:\n  sam-vit-b:\n    operation: segment\n    arch: SAM-vit_b\n"
        f"    file: {file}\n    sources: [{{kind: url, url: '{URL}', sha256: null}}]\n"
    )
    return path


@pytest.fixture(autouse=True)
def outside_ray(monkeypatch):
    # replica_resources() outside a replica would start a local Ray instance (seconds)
    monkeypatch.setattr("deployments.common.replica.replica_resources", lambda: (2.0, 0.0))


@pytest.fixture
def segmenter_env(tmp_path, monkeypatch, checkpoint):
    """Settings whose catalog points sam-vit-b at the fixture checkpoint."""
    monkeypatch.setenv("PHOTOSERVE_MODELS", str(models_file(tmp_path, str(checkpoint))))
    monkeypatch.setenv("PHOTOSERVE_WEIGHTS_DIR", str(tmp_path / "weights"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def fake_encoder(monkeypatch, checkpoint, model, coffee, coffee_embedding, coffee_features):
    """`sam.embed` without the seconds: coffee's real features, sized for the given photo.
    The model is shared too (loaded once per module; the deployment still resolves the path)."""
    from segment_anything.utils.transforms import ResizeLongestSide

    def embed(_model, image: np.ndarray) -> sam.Embedding:
        if image.shape == coffee.shape and (image == coffee).all():
            return coffee_embedding
        size = (image.shape[0], image.shape[1])
        resized = ResizeLongestSide.get_preprocess_shape(*size, model.image_size)
        return sam.embedding(model, coffee_features, size, resized)

    def load(path, device, variant="vit_b"):
        assert (Path(path), variant) == (checkpoint, "vit_b")
        return model

    monkeypatch.setattr(sam, "embed", embed)
    monkeypatch.setattr(sam, "load", load)


@pytest.fixture
def segmenter(segmenter_env, fake_encoder):
    from deployments.segment.segmenter import Segmenter

    return Segmenter.func_or_class()


def test_fixture_loads_strict_into_the_real_architecture(checkpoint, model, tmp_path):
    import torch

    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    expected = model.module.state_dict()
    assert saved.keys() == expected.keys()
    assert all(saved[k].shape == expected[k].shape for k in expected)
    assert sum(v.numel() for v in saved.values()) > 90_000_000  # vit_b: ~94M parameters
    partial = tmp_path / "partial.pth"
    torch.save({k: v for k, v in saved.items() if k.startswith("prompt_encoder.")}, partial)
    with pytest.raises(RuntimeError, match="Missing key"):
        sam.load(partial, CPU)


def test_embedding_keeps_the_original_and_the_resized_size(model, coffee, coffee_features):
    features, input_size = sam.encode(model, coffee)
    assert input_size == (768, 1024)  # long side to 1024, before padding
    assert tuple(features.shape) == (1, 256, 64, 64)
    embedding = sam.embedding(model, coffee_features, coffee.shape[:2], input_size)
    assert embedding.original_size == (150, 200)
    assert tuple(embedding.image.tokens.shape) == (1, 64 * 64, 256)


@pytest.mark.parametrize(
    "prompt",
    [
        {"points": [[150, 40, 1]]},
        {"box": [10, 30, 120, 140]},
        {"points": [[60, 80, 1], [20, 130, 0]], "box": [10, 30, 120, 140], "multimask": False},
    ],
)
def test_masks_match_the_official_predictor_at_the_original_size(
    model, coffee_embedding, coffee_features, prompt
):
    """Same features, so the prompt transform to the 1024 frame and the mask's way back to
    150x200 must be exactly SamPredictor's."""
    from segment_anything import SamPredictor

    reference = SamPredictor(model.module)
    reference.features = coffee_features
    reference.original_size = coffee_embedding.original_size
    reference.input_size = coffee_embedding.input_size
    reference.is_image_set = True
    points = np.asarray(prompt.get("points", []), dtype=np.float64).reshape(-1, 3)
    masks, scores, _ = reference.predict(
        points[:, :2] if len(points) else None,
        points[:, 2] if len(points) else None,
        np.asarray(prompt["box"]) if "box" in prompt else None,
        multimask_output=prompt.get("multimask", True),
    )
    ours = sam.predict(model, coffee_embedding, **prompt)
    assert ours.shape == (150, 200) and ours.dtype == bool
    np.testing.assert_array_equal(ours, masks[int(np.argmax(scores))])


@pytest.mark.parametrize(
    ("points", "box", "message"),
    [
        (None, None, "at least one point or a box"),
        ([], None, "at least one point or a box"),
        ([[10, 10]], None, r"\[\[x, y, label\]"),
        ([[10, 10, 2]], None, "labels must be 1"),
        ([[201, 10, 1]], None, "outside the 200x150"),
        ([[10, -1, 1]], None, "outside the 200x150"),
        (None, [50, 10, 20, 40], "x0 < x1"),
        (None, [0, 0, 10], "x0 < x1"),
        (None, [0, 0, 10, 151], "outside the 200x150"),
        ([[float("nan"), 3, 1]], None, "finite"),
    ],
)
def test_impossible_prompts_raise_value_error(points, box, message):
    with pytest.raises(ValueError, match=message):
        sam.parse_prompt(points, box, (150, 200))


async def test_clicks_on_one_photo_cost_one_encoder_pass(
    segmenter, model, coffee, coffee_embedding
):
    first = [event async for event in segmenter.run(coffee, {"points": [[150, 40, 1]]})]
    assert [e["progress"] for e in first[:-1]] == [0.0, 0.8]
    selected = first[-1]["image"]
    assert selected.shape == (150, 200) and selected.dtype == np.uint8
    assert set(np.unique(selected)) <= {0, 255}
    box = await segmenter.mask(coffee, {"box": [10, 30, 120, 140], "multimask": False})
    assert box.shape == (150, 200) and box.dtype == np.uint8
    direct = sam.predict(model, coffee_embedding, box=[10, 30, 120, 140], multimask=False)
    np.testing.assert_array_equal(box, direct.astype(np.uint8) * 255)
    assert segmenter.status()["encoder_passes"] == 1
    again = [event async for event in segmenter.run(coffee, {"points": [[150, 40, 1]]})]
    assert [list(e) for e in again] == [["image"]]  # a click on a cached photo: no progress
    np.testing.assert_array_equal(again[-1]["image"], selected)
    other = await segmenter.mask(small("chelsea", 90, 60), {"points": [[45, 30, 1]]})
    assert other.shape == (60, 90)
    assert segmenter.status()["encoder_passes"] == 2
    assert segmenter.status()["cached"] == 2


async def test_the_least_recently_used_photo_is_evicted(segmenter):
    segmenter.reconfigure({"cache_size": 2})
    a, b, c = (small(name, 64, 48) for name in ("astronaut", "chelsea", "camera"))
    click = {"points": [[32, 24, 1]]}

    async def passes_after(image: np.ndarray) -> int:
        await segmenter.mask(image, click)
        return segmenter.status()["encoder_passes"]

    assert [await passes_after(image) for image in (a, b, a)] == [1, 2, 2]
    assert await passes_after(c) == 3  # evicts b, not a: a was used after b
    assert await passes_after(a) == 3
    assert await passes_after(b) == 4
    assert segmenter.status()["cached"] == 2


async def test_concurrent_requests_for_one_new_photo_cost_one_pass(segmenter):
    image = small("rocket", 80, 60)
    clicks = [{"points": [[x, 30, 1]]} for x in (10, 40, 70)]
    masks = await asyncio.gather(*(segmenter.mask(image, click) for click in clicks))
    assert all(m.shape == (60, 80) for m in masks)
    assert segmenter.status()["encoder_passes"] == 1
    assert segmenter.locks == {}  # nothing left behind per photo


async def test_an_empty_prompt_fails_before_the_encoder(segmenter, coffee):
    with pytest.raises(ValueError):
        await segmenter.mask(coffee, {"points": [], "box": None})
    with pytest.raises(ValueError):
        [event async for event in segmenter.run(coffee, {})]
    assert segmenter.status()["encoder_passes"] == 0


def test_the_deployment_loads_the_catalog_model(segmenter_env):
    from deployments.segment.segmenter import Segmenter

    status = Segmenter.func_or_class().status()
    assert status["loaded"] == ["sam-vit-b"]
    assert status["device"] == "cpu" and status["encoder_passes"] == 0


async def test_without_weights_it_reports_missing_and_refuses(tmp_path, monkeypatch, coffee):
    from deployments.segment.segmenter import Segmenter

    monkeypatch.setenv("PHOTOSERVE_MODELS", str(models_file(tmp_path, sam_fixture.FILE)))
    monkeypatch.setenv("PHOTOSERVE_WEIGHTS_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    try:
        segmenter = Segmenter.func_or_class()
    finally:
        get_settings.cache_clear()
    status = segmenter.status()
    assert status["loaded"] == []
    assert status["missing"]["sam-vit-b"].startswith("weights not found:")
    with pytest.raises(ModelNotLoaded):
        [event async for event in segmenter.run(coffee, {"points": [[5, 5, 1]]})]
    with pytest.raises(ModelNotLoaded):
        await segmenter.mask(coffee, {"points": [[5, 5, 1]]})


@pytest.mark.parametrize("chunk", [64, 100, 4096])
def test_banded_global_attention_is_the_same_attention(chunk, monkeypatch):
    """Query rows a band at a time (whole bands, a ragged last band, one band): the same
    output as segment_anything's own forward, relative positions included."""
    import torch
    from segment_anything.modeling.image_encoder import Attention

    from deployments.segment import attention

    torch.manual_seed(0)
    layer = Attention(64, num_heads=4, use_rel_pos=True, input_size=(16, 16)).eval()
    torch.nn.init.normal_(layer.rel_pos_h, std=0.5)
    torch.nn.init.normal_(layer.rel_pos_w, std=0.5)
    x = torch.randn(1, 16, 16, 64)
    with torch.inference_mode():
        expected = layer(x)
        monkeypatch.setattr(attention, "CHUNK_TOKENS", chunk)
        got = attention.forward(layer, x)
    assert torch.allclose(got, expected, atol=1e-5)


def test_vit_b_gets_the_banded_forward_on_its_four_global_blocks():
    from segment_anything import sam_model_registry

    from deployments.segment import attention

    encoder = sam_model_registry["vit_b"](checkpoint=None).image_encoder
    assert attention.bound(encoder) == 4


@pytest.mark.parametrize(
    "prompt",
    [
        {"points": [[150, 40, 1]]},
        {"box": [10, 30, 120, 140]},
        {"points": [[60, 80, 1], [20, 130, 0]], "box": [10, 30, 120, 140]},
    ],
)
def test_the_split_decoder_is_segment_anythings_mask_decoder(
    model, coffee_embedding, coffee_features, prompt
):
    """The photo's part computed once, the click's part per click: the same logits and IoU
    scores as MaskDecoder on the same features (all four candidates)."""
    import torch

    from deployments.segment import decoder

    module = model.module
    points = np.asarray(prompt.get("points", []), dtype=np.float32).reshape(-1, 3)
    point_input = (
        (torch.as_tensor(points[None, :, :2]), torch.as_tensor(points[None, :, 2]).int())
        if len(points)
        else None
    )
    box = torch.as_tensor(prompt["box"], dtype=torch.float32)[None] if "box" in prompt else None
    with torch.inference_mode():
        sparse, dense = module.prompt_encoder(points=point_input, boxes=box, masks=None)
        expected = module.mask_decoder.predict_masks(
            coffee_features, module.prompt_encoder.get_dense_pe(), sparse, dense
        )
        got = decoder.decode(module, coffee_embedding.image, model.positions, sparse)
    for ours, theirs in zip(got, expected, strict=True):
        assert ours.shape == theirs.shape
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_a_2x2_stride_2_transposed_convolution_is_one_matrix_product():
    """Pixels as rows in, each pixel's 2x2 block of rows out: put back in image order, the
    same as the convolution."""
    import torch

    from deployments.segment import decoder

    torch.manual_seed(0)
    conv = torch.nn.ConvTranspose2d(8, 3, kernel_size=2, stride=2)
    x = torch.randn(1, 8, 5, 7)
    with torch.inference_mode():
        rows = decoder._block_rows(conv, x[0].permute(1, 2, 0).reshape(-1, 8))
        image = rows.view(5, 7, 2, 2, 3).permute(4, 0, 2, 1, 3).reshape(1, 3, 10, 14)
        torch.testing.assert_close(image, conv(x))


async def test_one_customer_never_reuses_anothers_embedding(segmenter, coffee):
    """The dispatcher scopes the cache per account: the same photo from another customer
    costs its own encoder pass (its first click's speed would say someone sent it lately)."""
    click = {"points": [[150, 40, 1]]}
    for scope in ("acct_a", "acct_a", "acct_b"):
        [event async for event in segmenter.run(coffee, {**click, "cache_scope": scope})]
    await segmenter.mask(coffee, {**click, "cache_scope": "acct_b"})
    assert segmenter.status()["encoder_passes"] == 2


async def test_the_dispatchers_file_key_names_the_embedding(segmenter, coffee):
    """Given the dispatcher's `cache_key` (the file's digest per account), the Segmenter
    keys by it and hashes no pixels; the key it would compute from the pixels is another."""
    from deployments.segment import segmenter as module

    click = {"points": [[150, 40, 1]], "cache_scope": "acct_c"}
    passes = segmenter.status()["encoder_passes"]
    for params in ({**click, "cache_key": "f" * 32}, {**click, "cache_key": "f" * 32}):
        [event async for event in segmenter.run(coffee, params)]
    await segmenter.mask(coffee, {**click, "cache_key": "f" * 32})
    assert segmenter.status()["encoder_passes"] == passes + 1
    assert module.cache_key(coffee, click) == module.image_key(coffee, "acct_c") != "f" * 32
    [event async for event in segmenter.run(coffee, click)]  # keyed by pixels: not cached yet
    assert segmenter.status()["encoder_passes"] == passes + 2

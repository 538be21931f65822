"""GFPGAN v1.4 (GFPGANv1Clean, loaded by spandrel from the official state dict): 512x512
aligned faces in, restored faces out, several at a time.

Two kinds of weights are stored in float16 and computed in float32 (`store_in_half`), 114 of
the network's 346 MB: `final_linear` (4096 -> 8192, the style codes: 134 MB in float32 for one
matrix-vector product per face), widened a slice at a time when called, and the StyleGAN
decoder's modulated convolutions, whose weights are multiplied by each face's style before
every use anyway (float16 times float32 is float32: no code of theirs changes). The
FaceRestorer peaked at 2.02 GB on the laptop profile; restored faces move by at most one
level in 255 (mean 0.02, tests/deployments/faces).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from deployments.common.device import DeviceConfig


class HalfStoredLinear(nn.Module):
    """A Linear layer whose weight is stored in float16 and computed in float32, ROWS output
    features at a time (so the widened copy is 16 MB, not the whole matrix)."""

    ROWS = 1024

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.register_buffer("weight", linear.weight.detach().half())
        self.register_buffer("bias", linear.bias.detach())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = []
        for start in range(0, self.weight.shape[0], self.ROWS):
            rows = slice(start, start + self.ROWS)
            parts.append(functional.linear(x, self.weight[rows].float(), self.bias[rows]))
        return torch.cat(parts, dim=-1)


def store_in_half(module: nn.Module) -> nn.Module:
    from spandrel.architectures.GFPGAN.__arch.stylegan2_clean_arch import ModulatedConv2d

    module.final_linear = HalfStoredLinear(module.final_linear)
    for layer in module.modules():
        if isinstance(layer, ModulatedConv2d):
            layer.weight.data = layer.weight.data.half()
    return module


@dataclass
class GFPGANNetwork:
    module: object
    device: DeviceConfig

    @classmethod
    def load(cls, path: Path, device: DeviceConfig) -> GFPGANNetwork:
        from deployments.common.checkpoints import fp32_module, load_state_dict

        module = fp32_module(load_state_dict(path), "GFPGAN", path.name, device)
        return cls(store_in_half(module), device)

    def run(self, faces: list[np.ndarray]) -> list[np.ndarray]:
        with torch.inference_mode():
            x = torch.from_numpy(np.stack(faces)).to(self.device.torch_device)
            x = x.permute(0, 3, 1, 2).contiguous().float().div_(255.0).sub_(0.5).div_(0.5)
            # the trained noise buffers instead of fresh noise: the same face gives the same
            # result every time
            y, _ = self.module(x, return_rgb=False, randomize_noise=False)
            y = y.clamp_(-1, 1).add_(1).mul_(127.5).round_().to(torch.uint8)
            return list(y.permute(0, 2, 3, 1).cpu().numpy())

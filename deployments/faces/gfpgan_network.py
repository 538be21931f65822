"""GFPGAN v1.4 (GFPGANv1Clean, loaded by spandrel from the official state dict): 512x512
aligned faces in, restored faces out, several at a time.

One layer is kept in float16: `final_linear` (4096 -> 8192, the style codes) holds 134 of
the network's 346 MB of float32 weights for a single matrix-vector product per face. Stored
in half and widened a slice at a time when called, it saves 67 MB of the replica's resident
memory (the FaceRestorer peaked at 2.02 GB on the laptop profile) and moves restored faces by
at most one level in 255 (mean 1e-4, tests/deployments/faces).
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


@dataclass
class GFPGANNetwork:
    module: object
    device: DeviceConfig

    @classmethod
    def load(cls, path: Path, device: DeviceConfig) -> GFPGANNetwork:
        from deployments.common.checkpoints import fp32_module, load_state_dict

        module = fp32_module(load_state_dict(path), "GFPGAN", path.name, device)
        module.final_linear = HalfStoredLinear(module.final_linear)
        return cls(module, device)

    def run(self, faces: list[np.ndarray]) -> list[np.ndarray]:
        with torch.inference_mode():
            x = torch.from_numpy(np.stack(faces)).to(self.device.torch_device)
            x = x.permute(0, 3, 1, 2).contiguous().float().div_(255.0).sub_(0.5).div_(0.5)
            # the trained noise buffers instead of fresh noise: the same face gives the same
            # result every time
            y, _ = self.module(x, return_rgb=False, randomize_noise=False)
            y = y.clamp_(-1, 1).add_(1).mul_(127.5).round_().to(torch.uint8)
            return list(y.permute(0, 2, 3, 1).cpu().numpy())

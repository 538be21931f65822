"""GFPGAN v1.4 (GFPGANv1Clean, loaded by spandrel from the official state dict): 512x512
aligned faces in, restored faces out, several at a time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deployments.common.device import DeviceConfig


@dataclass
class GFPGANNetwork:
    module: object
    device: DeviceConfig

    @classmethod
    def load(cls, path: Path, device: DeviceConfig) -> GFPGANNetwork:
        from deployments.common.checkpoints import fp32_module, load_state_dict

        return cls(fp32_module(load_state_dict(path), "GFPGAN", path.name, device), device)

    def run(self, faces: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.stack(faces)).to(self.device.torch_device)
            x = x.permute(0, 3, 1, 2).contiguous().float().div_(255.0).sub_(0.5).div_(0.5)
            # the trained noise buffers instead of fresh noise: the same face gives the same
            # result every time
            y, _ = self.module(x, return_rgb=False, randomize_noise=False)
            y = y.clamp_(-1, 1).add_(1).mul_(127.5).round_().to(torch.uint8)
            return list(y.permute(0, 2, 3, 1).cpu().numpy())

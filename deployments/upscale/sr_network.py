"""A super-resolution network loaded through spandrel, turning uint8 tiles into uint8 tiles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import spandrel
import torch

from deployments.common.checkpoints import load_state_dict
from deployments.common.device import DeviceConfig, apply_torch


@dataclass
class SRNetwork:
    module: torch.nn.Module
    scale: int
    device: DeviceConfig

    @classmethod
    def load(cls, path: Path, device: DeviceConfig) -> SRNetwork:
        apply_torch(device)
        descriptor = spandrel.ModelLoader().load_from_state_dict(load_state_dict(path))
        module = descriptor.model.eval().to(device.torch_device, dtype=device.dtype)
        if device.channels_last:
            module = module.to(memory_format=torch.channels_last)
        return cls(module, descriptor.scale, device)

    def release(self) -> None:
        """PyTorch hands freed CPU memory to the heap at once: trimming it is enough."""

    def run(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        """Upscale HxWx3 uint8 tiles; tiles of one shape go through the network together."""
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, tile in enumerate(tiles):
            by_shape.setdefault(tile.shape, []).append(index)
        results: list[np.ndarray] = [None] * len(tiles)  # type: ignore[list-item]
        for indices in by_shape.values():
            outputs = self._forward(np.stack([tiles[i] for i in indices]))
            for i, out in zip(indices, outputs, strict=True):
                results[i] = out
        return results

    @torch.inference_mode()
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device.torch_device).permute(0, 3, 1, 2)
        x = x.to(self.device.dtype).div_(255.0)
        if self.device.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = self.module(x)
        y = y.float().clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
        return y.permute(0, 2, 3, 1).contiguous().cpu().numpy()

"""U²-Net (Qin et al., Pattern Recognition 2020), the `U2NET` class of xuebinqin/U-2-Net.

Module and attribute names follow the official model/u2net.py so that the official
`u2net.pth` state dict loads with strict=True: `stage1.rebnconvin.conv_s1.weight`,
`stage5d.rebnconv3d.bn_s1.running_mean`, `side1.weight`, `outconv.weight`, ...
The RSU blocks are written once, parameterised by height, instead of RSU7..RSU4 copies;
they create exactly the attributes the copies have.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deployments.common.device import DeviceConfig, apply_torch


def _upsample_like(src: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # the official code's F.upsample(..., mode='bilinear'): align_corners False
    return F.interpolate(src, size=target.shape[2:], mode="bilinear", align_corners=False)


class REBNCONV(nn.Module):
    def __init__(self, in_ch: int = 3, out_ch: int = 3, dirate: int = 1) -> None:
        super().__init__()
        self.conv_s1 = nn.Conv2d(in_ch, out_ch, 3, padding=dirate, dilation=dirate)
        self.bn_s1 = nn.BatchNorm2d(out_ch)
        self.relu_s1 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu_s1(self.bn_s1(self.conv_s1(x)))


class RSU(nn.Module):
    """Residual U-block of height L (RSU7 is L=7): L-1 encoder levels with max-pooling in
    between, a dilated bottom level, a decoder back up, plus the input as a residual."""

    def __init__(self, height: int, in_ch: int, mid_ch: int, out_ch: int) -> None:
        super().__init__()
        self.height = height
        self.rebnconvin = REBNCONV(in_ch, out_ch, dirate=1)
        self.rebnconv1 = REBNCONV(out_ch, mid_ch, dirate=1)
        for level in range(1, height - 1):
            setattr(self, f"pool{level}", nn.MaxPool2d(2, stride=2, ceil_mode=True))
            setattr(self, f"rebnconv{level + 1}", REBNCONV(mid_ch, mid_ch, dirate=1))
        setattr(self, f"rebnconv{height}", REBNCONV(mid_ch, mid_ch, dirate=2))
        for level in range(height - 1, 1, -1):
            setattr(self, f"rebnconv{level}d", REBNCONV(mid_ch * 2, mid_ch, dirate=1))
        self.rebnconv1d = REBNCONV(mid_ch * 2, out_ch, dirate=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hxin = self.rebnconvin(x)
        skips = [self.rebnconv1(hxin)]
        for level in range(2, self.height):
            pooled = getattr(self, f"pool{level - 1}")(skips[-1])
            skips.append(getattr(self, f"rebnconv{level}")(pooled))
        hx = getattr(self, f"rebnconv{self.height}")(skips[-1])
        for level in range(self.height - 1, 0, -1):
            skip = skips[level - 1]
            if hx.shape[2:] != skip.shape[2:]:
                hx = _upsample_like(hx, skip)
            hx = getattr(self, f"rebnconv{level}d")(torch.cat((hx, skip), 1))
        return hx + hxin


class RSU7(RSU):
    def __init__(self, in_ch: int = 3, mid_ch: int = 12, out_ch: int = 3) -> None:
        super().__init__(7, in_ch, mid_ch, out_ch)


class RSU6(RSU):
    def __init__(self, in_ch: int = 3, mid_ch: int = 12, out_ch: int = 3) -> None:
        super().__init__(6, in_ch, mid_ch, out_ch)


class RSU5(RSU):
    def __init__(self, in_ch: int = 3, mid_ch: int = 12, out_ch: int = 3) -> None:
        super().__init__(5, in_ch, mid_ch, out_ch)


class RSU4(RSU):
    def __init__(self, in_ch: int = 3, mid_ch: int = 12, out_ch: int = 3) -> None:
        super().__init__(4, in_ch, mid_ch, out_ch)


class RSU4F(nn.Module):
    """The bottom blocks: feature maps already small, so dilation instead of pooling."""

    def __init__(self, in_ch: int = 3, mid_ch: int = 12, out_ch: int = 3) -> None:
        super().__init__()
        self.rebnconvin = REBNCONV(in_ch, out_ch, dirate=1)
        self.rebnconv1 = REBNCONV(out_ch, mid_ch, dirate=1)
        self.rebnconv2 = REBNCONV(mid_ch, mid_ch, dirate=2)
        self.rebnconv3 = REBNCONV(mid_ch, mid_ch, dirate=4)
        self.rebnconv4 = REBNCONV(mid_ch, mid_ch, dirate=8)
        self.rebnconv3d = REBNCONV(mid_ch * 2, mid_ch, dirate=4)
        self.rebnconv2d = REBNCONV(mid_ch * 2, mid_ch, dirate=2)
        self.rebnconv1d = REBNCONV(mid_ch * 2, out_ch, dirate=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hxin = self.rebnconvin(x)
        hx1 = self.rebnconv1(hxin)
        hx2 = self.rebnconv2(hx1)
        hx3 = self.rebnconv3(hx2)
        hx4 = self.rebnconv4(hx3)
        hx3d = self.rebnconv3d(torch.cat((hx4, hx3), 1))
        hx2d = self.rebnconv2d(torch.cat((hx3d, hx2), 1))
        hx1d = self.rebnconv1d(torch.cat((hx2d, hx1), 1))
        return hx1d + hxin


class U2NET(nn.Module):
    def __init__(self, in_ch: int = 3, out_ch: int = 1) -> None:
        super().__init__()
        self.stage1 = RSU7(in_ch, 32, 64)
        self.pool12 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.stage2 = RSU6(64, 32, 128)
        self.pool23 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.stage3 = RSU5(128, 64, 256)
        self.pool34 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.stage4 = RSU4(256, 128, 512)
        self.pool45 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.stage5 = RSU4F(512, 256, 512)
        self.pool56 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.stage6 = RSU4F(512, 256, 512)

        self.stage5d = RSU4F(1024, 256, 512)
        self.stage4d = RSU4(1024, 128, 256)
        self.stage3d = RSU5(512, 64, 128)
        self.stage2d = RSU6(256, 32, 64)
        self.stage1d = RSU7(128, 16, 64)

        self.side1 = nn.Conv2d(64, out_ch, 3, padding=1)
        self.side2 = nn.Conv2d(64, out_ch, 3, padding=1)
        self.side3 = nn.Conv2d(128, out_ch, 3, padding=1)
        self.side4 = nn.Conv2d(256, out_ch, 3, padding=1)
        self.side5 = nn.Conv2d(512, out_ch, 3, padding=1)
        self.side6 = nn.Conv2d(512, out_ch, 3, padding=1)
        self.outconv = nn.Conv2d(6 * out_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The fused map d0 first, then the six side outputs; all through a sigmoid."""
        hx1 = self.stage1(x)
        hx2 = self.stage2(self.pool12(hx1))
        hx3 = self.stage3(self.pool23(hx2))
        hx4 = self.stage4(self.pool34(hx3))
        hx5 = self.stage5(self.pool45(hx4))
        hx6 = self.stage6(self.pool56(hx5))

        hx5d = self.stage5d(torch.cat((_upsample_like(hx6, hx5), hx5), 1))
        hx4d = self.stage4d(torch.cat((_upsample_like(hx5d, hx4), hx4), 1))
        hx3d = self.stage3d(torch.cat((_upsample_like(hx4d, hx3), hx3), 1))
        hx2d = self.stage2d(torch.cat((_upsample_like(hx3d, hx2), hx2), 1))
        hx1d = self.stage1d(torch.cat((_upsample_like(hx2d, hx1), hx1), 1))

        d1 = self.side1(hx1d)
        sides = [d1] + [
            _upsample_like(side(h), d1)
            for side, h in (
                (self.side2, hx2d),
                (self.side3, hx3d),
                (self.side4, hx4d),
                (self.side5, hx5d),
                (self.side6, hx6),
            )
        ]
        d0 = self.outconv(torch.cat(sides, 1))
        return tuple(torch.sigmoid(d) for d in [d0, *sides])


def fuse_batchnorm(module: U2NET) -> U2NET:
    """Fold every BatchNorm into the convolution before it (inference only): the same
    mattes, one pass over each layer's activations fewer."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for block in module.modules():
        if isinstance(block, REBNCONV) and isinstance(block.bn_s1, nn.BatchNorm2d):
            block.conv_s1 = fuse_conv_bn_eval(block.conv_s1, block.bn_s1)
            block.bn_s1 = nn.Identity()
    return module


class TorchU2Net:
    """The module as the ncnn runtime is called: Nx3xSxS float32 in, the fused matte
    (NxSxS float32, through its sigmoid) out. The GPU backend, and the CPU one without ncnn."""

    def __init__(self, module: U2NET, device: DeviceConfig) -> None:
        self.module, self.device = module, device

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device.torch_device, dtype=self.device.dtype)
            if self.device.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            return self.module(x)[0][:, 0].float().cpu().numpy()

    def release(self) -> None:
        """Nothing of its own to give back (PyTorch's CPU allocator returns to the heap)."""


def load_module(path: Path) -> U2NET:
    """The official state dict, strictly (a checkpoint of another network fails here, not
    with a silently wrong matte), on the CPU in float32, BatchNorms folded."""
    from deployments.common.checkpoints import load_state_dict

    module = U2NET(3, 1)
    module.load_state_dict(load_state_dict(path), strict=True)
    return fuse_batchnorm(module.eval())


def load(path: Path, device: DeviceConfig) -> TorchU2Net:
    apply_torch(device)
    module = load_module(path).to(device.torch_device, dtype=device.dtype)
    if device.channels_last:
        module = module.to(memory_format=torch.channels_last)
    return TorchU2Net(module, device)

"""A random-initialised U²-Net (the real architecture, deployments.u2net.U2NET) saved the way
the official file is: `u2net.pth`, a plain state dict written by torch.save (keys
`stage1.rebnconvin.conv_s1.weight` ... `outconv.bias`, ~176 MB in float32). For the plumbing
only, never served as a model."""

from __future__ import annotations

from pathlib import Path

FILE = "u2net.pth"


def build(directory: Path) -> Path:
    import torch

    from deployments.background.u2net import U2NET

    torch.manual_seed(0)
    path = Path(directory) / FILE
    torch.save(U2NET(3, 1).state_dict(), str(path))
    return path

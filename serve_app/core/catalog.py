"""The model catalog (configs/models.yaml, optionally overridden by a user file).

Availability is decided by the weights file being on disk: the gateway can answer
`model_unavailable` before any credit moves, without loading a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serve_app.core import yaml_files

NCNN_STORAGE = ("fp32", "bf16")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    operation: str
    arch: str
    file: str
    alias: str | None = None
    scale: int = 1
    sources: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    work_mb: int = 0  # memory one tile takes in its runtime on the laptop profile (measured)
    parallel_tiles: int = 1  # tiles a CPU replica runs side by side, one thread each
    ncnn_storage: str = "fp32"  # the precision ncnn keeps weights and blobs in: fp32 or bf16
    sample_px: int = 0  # a generator's native square side: it works at about sample_px² pixels
    # a generator's defaults and abilities: steps, guidance, negative_prompt (bool)
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def ncnn_bf16(self) -> bool:
        return self.ncnn_storage == "bf16"

    def weights_path(self, weights_dir: Path) -> Path:
        path = Path(self.file)
        return path if path.is_absolute() else weights_dir / path


class CatalogError(yaml_files.ConfigError):
    """A models file that cannot be used, said in one line an operator can act on."""


def _read(path: Path | None) -> dict[str, dict]:
    if path is None or not Path(path).exists():
        return {}
    data = yaml_files.read(Path(path), CatalogError, "`models:`")
    models = yaml_files.mapping(
        data.get("models"),
        CatalogError,
        f"{Path(path).name}: `models` must map model names to settings",
    )
    return {name: _entry(name, entry) for name, entry in models.items()}


def _entry(name: str, entry: Any) -> dict:
    return yaml_files.mapping(
        entry, CatalogError, f"model {name}: expected its settings (operation, arch, file, ...)"
    )


def _storage(name: str, value: str) -> str:
    if value not in NCNN_STORAGE:
        raise CatalogError(f"model {name}: ncnn_storage must be one of {NCNN_STORAGE}")
    return value


def _int(name: str, entry: dict, key: str, default: int) -> int:
    return yaml_files.whole(entry.get(key, default), CatalogError, f"model {name}: {key}")


def _spec(name: str, entry: dict) -> ModelSpec:
    missing = [key for key in ("operation", "arch", "file") if key not in entry]
    if missing:
        raise CatalogError(
            f"model {name}: {', '.join(missing)} missing (a new model needs operation, arch "
            "and file; to change a listed model, use its name, not its alias)"
        )
    return ModelSpec(
        name=name,
        operation=entry["operation"],
        arch=entry["arch"],
        file=entry["file"],
        alias=entry.get("alias"),
        scale=_int(name, entry, "scale", 1),
        sources=tuple(entry.get("sources") or ()),
        work_mb=_int(name, entry, "work_mb", 0),
        parallel_tiles=max(1, _int(name, entry, "parallel_tiles", 1)),
        ncnn_storage=_storage(name, entry.get("ncnn_storage", "fp32")),
        sample_px=_int(name, entry, "sample_px", 0),
        options=dict(entry.get("options") or {}),
    )


class Catalog:
    def __init__(self, specs: list[ModelSpec], weights_dir: Path):
        self.specs = {spec.name: spec for spec in specs}
        self.weights_dir = weights_dir

    @classmethod
    def load(cls, models_file: Path, user_file: Path | None, weights_dir: Path) -> Catalog:
        entries = _read(models_file)
        for name, entry in _read(user_file).items():
            entries[name] = {**entries.get(name, {}), **entry}
        return cls([_spec(name, entry) for name, entry in entries.items()], weights_dir)

    def find(self, operation: str, name_or_alias: str) -> ModelSpec | None:
        for spec in self.specs.values():
            if spec.operation == operation and name_or_alias in (spec.name, spec.alias):
                return spec
        return None

    def for_operation(self, operation: str) -> list[ModelSpec]:
        return [spec for spec in self.specs.values() if spec.operation == operation]

    def available(self, spec: ModelSpec) -> bool:
        # a file (state dict) or a directory (a diffusers pipeline, model_index.json inside)
        path = spec.weights_path(self.weights_dir)
        return path.is_file() or (path / "model_index.json").is_file()

    def how_to_get(self, name: str) -> str:
        """What a 503 `model_unavailable` and an offline `weights fetch` tell the operator."""
        spec = self.specs.get(name)
        fetch = f"run `photoserve weights fetch {name}` where there is internet"
        if spec is None:
            return fetch + "."
        return f"{fetch}, or {by_hand(spec)}."


def by_hand(spec: ModelSpec) -> str:
    """How to install a model's weights fetched on another machine."""
    return f"{source_line(spec)}, then run `photoserve weights import {spec.name} FILE`"


def source_line(spec: ModelSpec) -> str:
    """Where a model's weights come from, with what checks them."""
    for source in spec.sources:
        if source.get("kind") == "url":
            checks = [f"{source['size']} bytes" if source.get("size") else ""]
            checks.append(f"sha256 {source['sha256']}" if source.get("sha256") else "")
            said = ", ".join(c for c in checks if c)
            return f"download {source['url']}" + (f" ({said})" if said else "")
        if source.get("kind") == "hf-snapshot":
            revision = source.get("revision") or "main"
            return f"download the Hugging Face repo {source['repo']} at {revision} as a folder"
    return "get its weights file"

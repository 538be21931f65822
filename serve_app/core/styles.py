"""Style catalogs (configs/styles/<task>.yaml): the style groups and styles a styling task
offers — an id and title each, and per style the prompt that makes it, an optional thumbnail
and reference image (files beside the catalog) and a strength. An operator adds a style by
editing the file; a catalog that names a missing file, repeats an id or lacks a prompt fails
at start, naming the file and the style.

    groups:
      - id: 1001
        title: Watercolor
        styles:
          - {id: 2001, title: Soft wash, prompt: "{prompt}, watercolor painting", strength: 1.0}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serve_app.core import yaml_files

MAX_ID = 2**53 - 1  # JavaScript clients read ids as doubles


class StyleCatalogError(yaml_files.ConfigError):
    pass


@dataclass(frozen=True)
class Style:
    id: int
    title: str
    prompt: str  # "{prompt}" is replaced with the caller's prompt, where a task takes one
    strength: float = 1.0
    thumb: Path | None = None
    reference: Path | None = None

    def prompt_for(self, prompt: str = "") -> str:
        return " ".join(self.prompt.replace("{prompt}", prompt).split()).strip(" ,")


@dataclass(frozen=True)
class Group:
    id: int
    title: str
    styles: tuple[Style, ...]


@dataclass(frozen=True)
class Styles:
    tasks: dict[str, tuple[Group, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> Styles:
        if not folder.is_dir():
            return cls()
        return cls({path.stem: _groups(path) for path in sorted(folder.glob("*.yaml"))})

    def groups(self, task: str) -> tuple[Group, ...]:
        return self.tasks.get(task, ())

    def find(self, task: str, group_id: int, style_id: int) -> Style | None:
        for group in self.groups(task):
            if group.id == group_id:
                return next((s for s in group.styles if s.id == style_id), None)
        return None


def _id(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise StyleCatalogError(f"{where}: id must be a whole number from 1 to 2^53-1.")
    return value


def _file(folder: Path, name: Any, where: str) -> Path | None:
    if name in (None, ""):
        return None
    path = (folder / str(name)).resolve()
    if folder.resolve() not in path.parents or not path.is_file():
        raise StyleCatalogError(f"{where}: {name!r} is not a file beside the catalog.")
    return path


def _style(entry: dict, folder: Path, where: str) -> Style:
    where = f"{where} style {entry.get('id')!r}"
    prompt = entry.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise StyleCatalogError(f"{where}: a prompt is required.")
    strength = entry.get("strength", 1.0)
    if isinstance(strength, bool) or not isinstance(strength, int | float) or not 0 < strength <= 1:
        raise StyleCatalogError(f"{where}: strength must be in (0, 1].")
    return Style(
        _id(entry.get("id"), where),
        str(entry.get("title") or entry.get("id")),
        prompt,
        float(strength),
        _file(folder, entry.get("thumb"), where),
        _file(folder, entry.get("reference"), where),
    )


def _group(entry: dict, folder: Path, where: str) -> Group:
    where = f"{where} group {entry.get('id')!r}"
    listed = yaml_files.mappings(
        entry.get("styles"), StyleCatalogError, f"{where}: `styles` must be a list of styles."
    )
    styles = tuple(_style(s, folder, where) for s in listed)
    if not styles:
        raise StyleCatalogError(f"{where}: no styles.")
    return Group(_id(entry.get("id"), where), str(entry.get("title") or entry.get("id")), styles)


def _read(path: Path) -> list:
    data = yaml_files.read(path, StyleCatalogError, "`groups:`")
    return yaml_files.mappings(
        data.get("groups"), StyleCatalogError, f"{path.name}: `groups` must be a list of groups."
    )


def _groups(path: Path) -> tuple[Group, ...]:
    groups = tuple(_group(g, path.parent, path.name) for g in _read(path))
    ids = [g.id for g in groups] + [s.id for g in groups for s in g.styles]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise StyleCatalogError(f"{path.name}: ids used twice: {repeated}.")
    return groups

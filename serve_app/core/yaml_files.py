"""The operator's YAML files (models, plans, style catalogs), read so that one that cannot be
read or parsed is said in one line naming the file and the line, as the caller's error; and
the shapes their values must have, checked the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """An operator's file that cannot be used: each kind names the file, entry and setting."""


def read(path: Path, error: type[Exception], expected: str) -> dict:
    """The file's top-level mapping; `expected` says what it should hold when it is not one."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise error(f"{path.name}: not valid YAML{where}") from None
    except OSError as exc:
        raise error(f"{path.name}: cannot be read ({exc.strerror})") from None
    return mapping(data, error, f"{path.name}: expected {expected}")


def mapping(value: Any, error: type[Exception], message: str) -> dict:
    """`value` when it is a mapping, {} when absent; `message` as `error` otherwise."""
    if not isinstance(value or {}, dict):
        raise error(message)
    return value or {}


def mappings(value: Any, error: type[Exception], message: str) -> list[dict]:
    """`value` when it is a list of mappings, [] when absent; `message` as `error` otherwise."""
    if not isinstance(value or [], list) or not all(isinstance(v, dict) for v in value or []):
        raise error(message)
    return value or []


def whole(value: Any, error: type[Exception], what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise error(f"{what} must be a whole number; got {value!r}") from None

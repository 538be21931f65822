"""The operator's YAML files (models, plans, style catalogs), read so that one that cannot be
read or parsed is said in one line naming the file and the line, as the caller's error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """An operator's file that cannot be used: each kind names the file, entry and setting."""


def read(path: Path, error: type[Exception]) -> Any:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise error(f"{path.name}: not valid YAML{where}") from None
    except OSError as exc:
        raise error(f"{path.name}: cannot be read ({exc.strerror})") from None

"""An operator's config file with a mistake in it, and what its loader says of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


def refusal(load: Callable[[Path], object], path: Path, text: str, error: type) -> str:
    """The one line `load` refuses `path` holding `text` with, checked to name no folder."""
    path.write_text(text)
    with pytest.raises(error) as refused:
        load(path)
    said = str(refused.value)
    assert str(path.parent) not in said and "\n" not in said
    return said

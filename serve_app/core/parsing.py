"""Scalar request parameters, read the same way on every route (form fields arrive as text,
JSON fields as numbers or booleans): a value, the default when absent, or a clear
`invalid_parameter` naming the field and its range."""

from __future__ import annotations

import re
from typing import Any

from serve_app.core.errors import InvalidParameter

_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def integer(value: Any, name: str, low: int, high: int, default: int | None) -> int | None:
    if value in (None, ""):
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if isinstance(value, bool) or not _INTEGER.match(text) or not low <= int(text) <= high:
        raise InvalidParameter(
            f"{name} must be a whole number from {low} to {high}; got {value!r}."
        )
    return int(text)


def number(value: Any, name: str, low: float, high: float, default: float) -> float:
    if value in (None, ""):
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        result = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(f"{name} must be a number from {low:g} to {high:g}.") from exc
    if not low <= result <= high:
        raise InvalidParameter(f"{name} must be from {low:g} to {high:g}; got {value!r}.")
    return result


def boolean(value: Any, name: str, default: bool = False) -> bool:
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidParameter(f"{name} must be true or false; got {value!r}.")

"""One reading of scalar parameters for every route: text from forms, numbers from JSON."""

from __future__ import annotations

import pytest

from serve_app.core import parsing
from serve_app.core.errors import InvalidParameter


@pytest.mark.parametrize(
    ("value", "expected"), [("7", 7), (7, 7), (7.0, 7), (" -3 ", -3), (None, 5)]
)
def test_integer(value, expected):
    assert parsing.integer(value, "n", -10, 10, 5) == expected


@pytest.mark.parametrize("value", ["7.5", 7.5, "x", True, "11", "1e1"])
def test_integer_refuses(value):
    with pytest.raises(InvalidParameter, match="n must be a whole number from -10 to 10"):
        parsing.integer(value, "n", -10, 10, 5)


def test_number_and_boolean():
    assert parsing.number("0.25", "f", 0, 1, 0.5) == 0.25
    assert parsing.number("", "f", 0, 1, 0.5) == 0.5
    for bad in ("1.5", "nan?", True):
        with pytest.raises(InvalidParameter, match="f must be"):
            parsing.number(bad, "f", 0, 1, 0.5)
    assert parsing.boolean("Yes", "b") is True and parsing.boolean(0, "b") is False
    assert parsing.boolean(None, "b", default=True) is True
    with pytest.raises(InvalidParameter, match="true or false"):
        parsing.boolean("maybe", "b")

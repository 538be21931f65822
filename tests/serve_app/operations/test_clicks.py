"""Clicks (`points`, `box`) are read as JSON text or lists and checked against the photo
before any credit moves."""

from __future__ import annotations

import pytest

from serve_app.core.errors import InvalidParameter
from serve_app.engine.images import ImageInfo
from serve_app.operations._editing import Clicks

INFO = ImageInfo("png", 64, 48)


def clicks(**raw) -> dict:
    return Clicks.read(raw).prompts(INFO, required=False)


def test_points_from_json_text_or_lists():
    assert clicks(points="[[1, 2, 1], [3, 4, 0]]")["points"] == [[1, 2, 1], [3, 4, 0]]
    assert clicks(points=[[5.7, 6]])["points"] == [[5, 6, 1]]
    assert clicks(points=None) == {}


@pytest.mark.parametrize(
    "points",
    ["[[1, 2", "[]x", [[64, 1, 1]], [[1, 48]], [[1, 2, 2]], [[1]], [["a", 2, 1]], [[True, 1, 1]]],
)
def test_bad_points_are_refused(points):
    with pytest.raises(InvalidParameter):
        clicks(points=points)


def test_too_many_points():
    with pytest.raises(InvalidParameter, match="20"):
        clicks(points=[[1, 1, 1]] * 21)


def test_box():
    assert clicks(box="[0, 0, 64, 48]") == {"points": [], "box": [0, 0, 64, 48]}
    for bad in ([0, 0, 65, 48], [10, 10, 5, 20], [1, 2, 3], "[1,2,3,x]"):
        with pytest.raises(InvalidParameter):
            clicks(box=bad)


def test_segment_needs_clicks():
    with pytest.raises(InvalidParameter, match="points"):
        Clicks.read({}).prompts(INFO, required=True)

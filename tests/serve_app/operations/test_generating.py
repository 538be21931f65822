"""The generator's output shapes: about sample_px² pixels in the ratio asked for, sides in
multiples of 16, and 2K/4K as the longest edge."""

from __future__ import annotations

import pytest

from serve_app.core.errors import InvalidParameter
from serve_app.operations._generating import (
    NAMED_RATIOS,
    output_size,
    parse_ratio,
    work_size,
)


@pytest.mark.parametrize("ratio", [*NAMED_RATIOS.values(), (21, 9), (1, 4), (4, 1), (2, 3)])
def test_the_working_size_is_about_one_megapixel_in_the_ratio(ratio):
    width, height = work_size(1024, ratio)
    assert width % 16 == 0 and height % 16 == 0
    assert 0.95 <= width * height / 1024**2 <= 1.05
    assert abs(width / height / (ratio[0] / ratio[1]) - 1) < 0.03


def test_2k_and_4k_are_the_longest_edge_and_1k_the_model_size():
    work = work_size(1024, (16, 9))
    assert output_size(work, "1K") == work
    assert max(output_size(work, "2K")) == 2048 and max(output_size(work, "4K")) == 4096
    width, height = output_size(work, "4K")
    assert abs(width / height - work[0] / work[1]) < 0.01


@pytest.mark.parametrize(
    ("text", "ratio"),
    [("square", (1, 1)), ("LANDSCAPE_4_3", (4, 3)), ("9:16", (9, 16)), (" 3x2 ", (3, 2))],
)
def test_ratios_by_name_or_w_h(text, ratio):
    assert parse_ratio(text) == ratio


@pytest.mark.parametrize("text", ["", "WIDE", "0:1", "5:1", "1:5", "a:b", "16:9:1", "99999:1"])
def test_other_ratios_are_refused(text):
    with pytest.raises(InvalidParameter, match="aspect_ratio"):
        parse_ratio(text)

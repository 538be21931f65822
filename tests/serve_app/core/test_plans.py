"""The plans file is checked when it loads: a mistake names the plan and the setting in one
line (photoserve run says it before starting anything), never a traceback."""

from __future__ import annotations

import pytest

from serve_app.core.plans import Plans, PlansError
from serve_app.core.settings import CONFIGS
from tests.helpers.config_files import refusal

SHIPPED = (CONFIGS / "plans.yaml").read_text()


def test_the_shipped_plans_load_with_their_limits():
    plans = Plans.load(CONFIGS / "plans.yaml")
    free = plans.get("free")
    assert free.limit("upload") > 0 and plans.cost("upscale", "scale", 4) == 2


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("costs: {upscale: [\n", "mine.yaml: not valid YAML at line 2"),
        ("- free\n", "mine.yaml: expected costs, plans"),
        ("plans: [free]\n", "`plans` must be a mapping"),
        ("plans:\n  free: 3\n", "plan free: expected its settings"),
        ("plans:\n  free: {free_daily: lots}\n", "plan free: free_daily must be a whole number"),
        ("plans:\n  pro: {rate_limits: {upload: many}}\n", "plan pro: rate_limits.upload must"),
        ("plans:\n  pro: {rate_limits: [1]}\n", "plan pro: rate_limits must map"),
    ],
)
def test_a_bad_plans_file_is_refused_saying_where(tmp_path, text, said):
    assert said in refusal(Plans.load, tmp_path / "mine.yaml", text, PlansError)


def test_a_missing_plans_file_is_said_by_name(tmp_path):
    with pytest.raises(PlansError, match=r"gone\.yaml: cannot be read"):
        Plans.load(tmp_path / "gone.yaml")

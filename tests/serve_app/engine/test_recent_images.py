"""The dispatcher's recently decoded photos: a byte budget, least recently used out first,
nothing kept long after its last use, and arrays no job can change."""

from __future__ import annotations

import numpy as np
import pytest

from serve_app.engine.images import Decoded
from serve_app.engine.recent_images import KEEP_S, RecentImages, digest


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def decoded(side: int, alpha: bool = False) -> Decoded:
    rgb = np.zeros((side, side, 3), np.uint8)
    return Decoded(rgb, np.zeros((side, side), np.uint8) if alpha else None)


def test_a_kept_photo_is_found_by_its_bytes_and_can_no_longer_change():
    recent = RecentImages(10_000)
    kept = recent.put(digest(b"photo"), decoded(10, alpha=True))
    assert recent.get(digest(b"photo")) is kept
    assert recent.get(digest(b"other")) is None
    with pytest.raises(ValueError, match="read-only"):
        kept.rgb[0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        kept.alpha[0, 0] = 1


def test_the_least_recently_used_goes_first_when_the_budget_is_full():
    recent = RecentImages(3 * 300)  # three 10x10 RGB photos
    for name in (b"a", b"b", b"c"):
        recent.put(digest(name), decoded(10))
    recent.get(digest(b"a"))
    recent.put(digest(b"d"), decoded(10))
    assert [recent.get(digest(n)) is not None for n in (b"a", b"b", b"c", b"d")] == [
        True,
        False,
        True,
        True,
    ]
    assert recent.held == 900


def test_a_photo_larger_than_the_budget_is_not_kept_and_stays_writable():
    recent = RecentImages(100)
    big = recent.put(digest(b"big"), decoded(10))
    assert recent.get(digest(b"big")) is None and recent.held == 0
    big.rgb[0, 0] = 1


def test_nothing_is_kept_long_after_its_last_use():
    clock = Clock()
    recent = RecentImages(10_000, clock)
    recent.put(digest(b"old"), decoded(10))
    recent.put(digest(b"used"), decoded(10))
    clock.now = KEEP_S - 1
    assert recent.get(digest(b"used")) is not None
    clock.now = KEEP_S + 1
    recent.expire()
    assert recent.get(digest(b"old")) is None
    assert recent.get(digest(b"used")) is not None and recent.held == 300


def test_one_account_never_finds_another_accounts_photo():
    recent = RecentImages(10_000)
    recent.put(digest(b"photo", "acct_a"), decoded(10))
    assert recent.get(digest(b"photo", "acct_a")) is not None
    assert recent.get(digest(b"photo", "acct_b")) is None

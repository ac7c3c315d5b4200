"""The statistics module against values worked by hand."""

from __future__ import annotations

import pytest

from pytest_trainloop.stats import wilson_interval


def test_wilson_interval_matches_the_hand_worked_value_for_8_of_10() -> None:
    # p = 0.8, z = 1.96: centre = (0.8 + 0.19208) / 1.38416 = 0.71676,
    # half = 1.96 * sqrt(0.016 + 0.0096040) / 1.38416 = 0.22657 -> [0.4902, 0.9433]
    low, high = wilson_interval(8, 10)  # type: ignore[misc]
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_interval_of_a_perfect_score_is_not_certain() -> None:
    # 20/20: centre = (1 + 0.09604) / 1.19208 = 0.91944, half = 0.08056 -> [0.8389, 1]
    low, high = wilson_interval(20, 20)  # type: ignore[misc]
    assert low == pytest.approx(0.8389, abs=1e-4)
    assert high == 1.0


def test_wilson_interval_of_nothing_is_none_and_bad_counts_are_refused() -> None:
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="between 0 and total"):
        wilson_interval(3, 2)

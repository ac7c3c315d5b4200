"""The statistics module against values worked by hand."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from pytest_trainloop.stats import _binomial, bootstrap_mean_ci, mcnemar_exact, wilson_interval


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


# --- McNemar ------------------------------------------------------------------------------------


def _two_sided_binomial(b: int, c: int) -> float:
    """The definition, summed term by term: 2 * sum_{i <= min(b, c)} C(b + c, i) / 2^(b + c)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / (1 << n))


def test_mcnemar_of_ten_newly_failed_and_two_newly_passed_is_the_hand_worked_value() -> None:
    # n = 12, min = 2: 2 * (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 2 * (1 + 12 + 66) / 4096
    # = 158 / 4096 = 0.0386: significant at 0.05, though 10 - 2 looks like a small sample.
    assert mcnemar_exact(10, 2) == pytest.approx(158 / 4096, rel=1e-15)
    assert round(mcnemar_exact(10, 2), 4) == 0.0386


@pytest.mark.parametrize(
    ("n", "x", "cumulative"),
    [
        # Cumulative binomial tables at p = 0.5 (any statistics textbook's appendix).
        (10, 1, 0.0107),
        (12, 2, 0.0193),
        (15, 3, 0.0176),
        (20, 5, 0.0207),
        (25, 7, 0.0216),
    ],
)
def test_mcnemar_is_twice_the_binomial_table_tail(n: int, x: int, cumulative: float) -> None:
    assert mcnemar_exact(n - x, x) == pytest.approx(2 * cumulative, abs=2e-4)


def test_mcnemar_with_every_flip_one_way_is_two_over_two_to_the_n() -> None:
    # Only the all-one-way outcome is as extreme: P = 2 * (1/2)^n.
    assert mcnemar_exact(5, 0) == 2 / 32
    assert mcnemar_exact(0, 6) == 2 / 64


def test_mcnemar_without_flips_or_with_as_many_each_way_is_one() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(7, 7) == 1.0
    assert mcnemar_exact(8, 7) == 1.0  # one apart: P(X <= 7) for Bin(15, 1/2) is exactly 1/2


def test_mcnemar_is_symmetric_in_its_two_counts() -> None:
    for b, c in [(10, 2), (3, 9), (40, 25), (1, 0)]:
        assert mcnemar_exact(b, c) == mcnemar_exact(c, b)


def test_mcnemar_equals_the_definition_on_every_small_table_and_a_large_one() -> None:
    for b in range(60):
        for c in range(60):
            assert mcnemar_exact(b, c) == _two_sided_binomial(b, c), (b, c)
    # Large and near the centre, where the early stop of the tail sum has the most to drop.
    assert mcnemar_exact(2000, 1850) == _two_sided_binomial(2000, 1850)


def test_mcnemar_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        mcnemar_exact(-1, 3)


# --- the bootstrap --------------------------------------------------------------------------------


def test_the_bootstrap_of_two_values_matches_the_hand_worked_distribution() -> None:
    # Resampling [0, 1] twice gives a mean of 0, 0.5 or 1 with chances 1/4, 1/2, 1/4. So the 5%
    # and 95% points are 0 and 1, and the 30% and 70% points are both 0.5.
    assert bootstrap_mean_ci([0.0, 1.0], confidence=0.9, seed=1) == (0.0, 1.0)
    assert bootstrap_mean_ci([0.0, 1.0], confidence=0.4, seed=1) == (0.5, 0.5)


def test_the_bootstrap_of_a_constant_difference_is_that_difference() -> None:
    assert bootstrap_mean_ci([0.25] * 500, confidence=0.95, seed=0) == (0.25, 0.25)


def test_the_same_differences_and_seed_give_the_same_interval() -> None:
    rng = random.Random(7)
    differences = [rng.choice([-1.0, 0.0, 0.0, 0.5, 1.0]) for _ in range(300)]
    first = bootstrap_mean_ci(differences, confidence=0.95, seed=3)
    assert bootstrap_mean_ci(list(differences), confidence=0.95, seed=3) == first
    assert bootstrap_mean_ci(differences, confidence=0.95, seed=4) != first


def test_the_bootstrap_interval_of_pass_fail_flips_is_close_to_the_normal_one() -> None:
    # 1000 pairs: 150 newly passed (+1), 100 newly failed (-1), 750 unchanged (0). Mean 0.05,
    # sd = sqrt(0.25 - 0.05^2) = 0.4975, so 95% is 0.05 +- 1.96 * 0.4975 / sqrt(1000)
    # = 0.05 +- 0.0308: [0.0192, 0.0808]. 2000 resamples put each end within about 0.002.
    differences = [1.0] * 150 + [-1.0] * 100 + [0.0] * 750
    low, high = bootstrap_mean_ci(differences, confidence=0.95, seed=0)
    assert low == pytest.approx(0.0192, abs=0.004)
    assert high == pytest.approx(0.0808, abs=0.004)


def test_the_bootstrap_of_continuous_scores_keeps_the_mean_and_the_normal_width() -> None:
    # 20k distinct values: grouped into bins for the resampling, which must not move the
    # interval. Uniform on [-0.45, 0.55): the interval is about mean +- 1.96 * sd / sqrt(n).
    rng = random.Random(11)
    differences = [rng.random() - 0.45 for _ in range(20_000)]
    mean = statistics.fmean(differences)
    half = 1.959964 * statistics.pstdev(differences) / math.sqrt(len(differences))
    low, high = bootstrap_mean_ci(differences, confidence=0.95, seed=0, resamples=1000)
    assert low == pytest.approx(mean - half, abs=0.1 * half)
    assert high == pytest.approx(mean + half, abs=0.1 * half)


def test_the_bootstrap_interval_covers_a_known_mean_about_as_often_as_it_says() -> None:
    # Draws of 80 paired differences from -1 (20%), 0 (50%), +1 (30%): the true mean is 0.1.
    # A 90% interval should hold it in about 90% of 300 samples (sd of that rate: 0.017).
    population = random.Random(5)
    covered = 0
    for trial in range(300):
        sample = population.choices([-1.0, 0.0, 1.0], weights=[2, 5, 3], k=80)
        low, high = bootstrap_mean_ci(sample, confidence=0.9, seed=trial, resamples=400)
        covered += low <= 0.1 <= high
    assert 0.84 <= covered / 300 <= 0.96


def test_the_bootstrap_refuses_what_it_cannot_resample() -> None:
    with pytest.raises(ValueError, match="no differences"):
        bootstrap_mean_ci([], confidence=0.95, seed=0)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        bootstrap_mean_ci([1.0], confidence=1.5, seed=0)


def test_binomial_draws_have_the_binomial_mean_and_variance() -> None:
    # Both of its methods: the geometric one (n * p < 10) and BTRS (the rest, with p > 1/2
    # mirrored). 20k draws: the mean is within 4 standard errors.
    rng = random.Random(2)
    for n, p in [(30, 0.1), (1000, 0.3), (500, 0.8)]:
        draws = [_binomial(rng, n, p) for _ in range(20_000)]
        variance = n * p * (1 - p)
        assert statistics.fmean(draws) == pytest.approx(n * p, abs=4 * math.sqrt(variance / 20_000))
        assert statistics.pvariance(draws) == pytest.approx(variance, rel=0.05)
        assert all(0 <= d <= n for d in draws)

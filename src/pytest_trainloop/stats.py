"""Pure statistics of scores: intervals and tests worked from first principles. No pytest here."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95% interval


def wilson_interval(passed: int, total: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a pass rate (95% by default); None when nothing ran.

    Unlike the normal approximation it stays inside [0, 1] and is honest at 0/n and n/n, which
    evals hit often (a metric that passed 20 of 20 cases is not certainly perfect).
    """
    if total <= 0:
        return None
    if not 0 <= passed <= total:
        raise ValueError(f"passed must be between 0 and total ({total}), got {passed}")
    p = passed / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(newly_failed: int, newly_passed: int) -> float:
    """The exact two-sided McNemar test: a binomial test with p = 1/2 on the discordant pairs.

    p = min(1, 2 * P(X <= min(b, c))) for X ~ Bin(b + c, 1/2); 1.0 when no pair flipped. The
    tail is summed in integers from min(b, c) downwards (the terms shrink that way) and stops
    once the rest is provably below 2**-100 of the sum, far below a float's 2**-53: the float
    returned is the exact one, and 100k flips take a tenth of a second, not seconds.
    """
    if newly_failed < 0 or newly_passed < 0:
        raise ValueError(f"counts must not be negative, got {newly_failed} and {newly_passed}")
    n = newly_failed + newly_passed
    k = min(newly_failed, newly_passed)
    if n == 0 or 2 * k >= n - 1:
        return 1.0  # k at the centre (b == c or one apart): the tail is at least half
    term = math.comb(n, k)
    tail = term
    for i in range(k, 0, -1):
        # C(n, i-1) = C(n, i) * i / (n-i+1), exact in integers. Every later ratio is at most
        # r = i / (n-i+1) < 1, so the rest of the sum is below term * r / (1 - r).
        term = term * i // (n - i + 1)
        tail += term
        if (term * i) << 100 < tail * (n - 2 * i + 1):
            break
    return min(1.0, 2 * tail / (1 << n))


def _binomial(rng: random.Random, n: int, p: float) -> int:
    """A draw from Bin(n, p) in O(1) expected time, from `rng` alone (so seeds reproduce it).

    CPython 3.12's `random.binomialvariate` (Devroye's geometric method for small n*p,
    Hörmann's BTRS otherwise), written out because this package supports Python 3.10.
    """
    if p <= 0.0 or n == 0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - _binomial(rng, n, 1.0 - p)
    if n * p < 10.0:
        x = y = 0
        c = math.log(1.0 - p)
        if not c:
            return 0
        while True:
            y += math.floor(math.log(1.0 - rng.random()) / c) + 1  # 1 - random(): never log(0)
            if y > n:
                return x
            x += 1
    spq = math.sqrt(n * p * (1.0 - p))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = math.log(p / (1.0 - p))
    m = math.floor((n + 1) * p)
    h = math.lgamma(m + 1) + math.lgamma(n - m + 1)
    while True:
        u = rng.random() - 0.5
        us = 0.5 - abs(u)
        if us <= 0.0:
            continue
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        v = rng.random()
        if us >= 0.07 and v <= vr:
            return k
        v *= alpha / (a / (us * us) + b)
        if (
            v > 0.0
            and math.log(v) <= h - math.lgamma(k + 1) - math.lgamma(n - k + 1) + (k - m) * lpq
        ):
            return k


SUPPORT_POINTS = 256  # more distinct values than this are grouped (see bootstrap_mean_ci)


def _support(differences: Sequence[float]) -> list[tuple[float, int]]:
    """The distinct values and how often each occurs; more than SUPPORT_POINTS distinct values
    are grouped into that many equal-width bins, each at the mean of its members."""
    counts = sorted(Counter(differences).items())
    if len(counts) <= SUPPORT_POINTS:
        return counts
    lo, hi = counts[0][0], counts[-1][0]
    width = (hi - lo) / SUPPORT_POINTS
    sums = [0.0] * SUPPORT_POINTS
    sizes = [0] * SUPPORT_POINTS
    for value, count in counts:
        j = min(int((value - lo) / width), SUPPORT_POINTS - 1)
        sums[j] += value * count
        sizes[j] += count
    return [(s / size, size) for s, size in zip(sums, sizes, strict=True) if size]


def bootstrap_mean_ci(
    differences: Sequence[float], confidence: float, seed: int, resamples: int = 2000
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of paired differences, seeded.

    A resample of n values drawn with replacement is, for its mean, only how many times each
    distinct value was drawn: a multinomial, drawn as one binomial per distinct value. So the
    cost is resamples * distinct values, not resamples * n: pass/fail cases (-1, 0, 1), judge
    vote fractions and rounded scores resample 100k pairs in well under a second. Past
    SUPPORT_POINTS distinct values (continuous scores) the values are grouped into that many
    equal-width bins at their bins' means: the sample mean is kept exactly and each value moves
    by less than a bin's width, (max - min) / 256, which changes the interval by far less than
    the resampling noise of 2000 resamples.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    n = len(differences)
    if n == 0:
        raise ValueError("no differences to resample")
    support = sorted(_support(differences), key=lambda vc: -vc[1])  # likely ones first
    rng = random.Random(seed)
    means: list[float] = []
    for _ in range(resamples):
        left, rest, total = n, n, 0.0
        for value, count in support:
            drawn = left if count == rest else _binomial(rng, left, count / rest)
            total += drawn * value
            left -= drawn
            rest -= count
            if left == 0:
                break
        means.append(total / n)
    means.sort()
    tail = (1.0 - confidence) / 2
    return _quantile(means, tail), _quantile(means, 1.0 - tail)


def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default method)."""
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)

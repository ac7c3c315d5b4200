"""Pure statistics of scores: intervals and tests worked from first principles. No pytest here."""

from __future__ import annotations

import math

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

"""The regression gates of a comparison: each gate that applies, whether it held, its red line
and its entry in the results' `gates` list. Pure (no pytest): the plugin and the
`pytest-trainloop compare` script decide the same way.

- `regression` (`--trainloop-fail-on-regression`): a metric that `regressed` (compare.py);
- `max_drop` (the marker's `max_drop=`, per metric; `--trainloop-max-drop`, on the whole run):
  the paired pass rate fell by more than the bound, whatever the statistics say.

A metric, or a run, with no paired case has nothing to gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_trainloop.compare import Comparison, Stats, flips, p_text


@dataclass(frozen=True)
class RegressionGate:
    """A regression gate that applied to the run; `message` is its line when it failed."""

    name: str  # "regression" or "max_drop"
    suite: str | None  # None for the overall --trainloop-max-drop
    metric: str | None
    bound: float  # alpha for "regression", the largest drop allowed for "max_drop"
    stats: Stats
    held: bool
    message: str

    def as_json(self) -> dict[str, Any]:
        """Its entry in the results' `gates`: the shape of the other gates (`score` is the
        run's score on the paired cases), with what explains the verdict."""
        s = self.stats
        before, after = _round(s.baseline_score), _round(s.run_score)
        entry: dict[str, Any] = {
            "gate": self.name,
            "suite": self.suite,
            "metric": self.metric,
            "bound": self.bound,
            "score": after,
            "held": self.held,
            "baseline_score": before,
            "newly_failed": s.newly_failed,
            "newly_passed": s.newly_passed,
            "p_value": s.p_value,
        }
        if self.name == "max_drop":
            entry["drop"] = None if before is None or after is None else round(before - after, 4)
        elif s.float_scores:
            entry.update(ci_low=_round(s.ci_low), ci_high=_round(s.ci_high))
        return entry


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def gate_checks(
    comparison: Comparison,
    fail_on_regression: bool,
    max_drop: Mapping[tuple[str, str], float] | None = None,
    overall_max_drop: float | None = None,
) -> list[RegressionGate]:
    """Every regression gate that applies, held or not, in suite and metric order, the overall
    --trainloop-max-drop last."""
    gates: list[RegressionGate] = []
    alpha = comparison.alpha
    for suite, found in comparison.suites.items():
        for metric, stats in found.metrics.items():
            if not stats.paired:
                continue
            name = f"{suite}/{metric}"
            if fail_on_regression:
                message = _regression_message(name, stats, alpha) if stats.regressed else ""
                gates.append(
                    RegressionGate(
                        "regression", suite, metric, alpha, stats, not stats.regressed, message
                    )
                )
            bound = (max_drop or {}).get((suite, metric))
            if bound is not None:
                gates.append(_drop_gate(f"max_drop of {name}", suite, metric, stats, bound))
    if overall_max_drop is not None and comparison.overall.paired:
        gates.append(
            _drop_gate("--trainloop-max-drop", None, None, comparison.overall, overall_max_drop)
        )
    return gates


def regression_gates(
    comparison: Comparison,
    fail_on_regression: bool,
    max_drop: Mapping[tuple[str, str], float] | None = None,
    overall_max_drop: float | None = None,
) -> list[RegressionGate]:
    """The regression gates that failed, in suite and metric order.

    `fail_on_regression`: every metric that `regressed`. `max_drop`, per (suite, metric), and
    `overall_max_drop`: the paired pass rate fell by more than the bound.
    """
    checks = gate_checks(comparison, fail_on_regression, max_drop, overall_max_drop)
    return [gate for gate in checks if not gate.held]


def max_drops(run: Mapping[str, Any]) -> dict[tuple[str, str], float]:
    """The markers' `max_drop=` bounds, as a run's results record them beside `min_score`."""
    return {
        (suite, metric): float(entry["max_drop"])
        for suite, values in run["suites"].items()
        for metric, entry in values["metrics"].items()
        if isinstance(entry.get("max_drop"), (int, float))
    }


def _regression_message(name: str, stats: Stats, alpha: float) -> str:
    line = f"regression of {name}: flips {flips(stats)}, p={p_text(stats.p_value)}"
    if stats.newly_failed > stats.newly_passed and stats.p_value < alpha:
        return f"{line} < alpha {alpha:g}"
    # Regressed by its interval alone: the mean score fell though the flips are not significant.
    return (
        f"{line}; mean score change {stats.mean_difference:+.3f}, "
        f"{1 - alpha:.0%} interval [{stats.ci_low:+.3f}, {stats.ci_high:+.3f}] below 0"
    )


def _drop_gate(
    label: str, suite: str | None, metric: str | None, stats: Stats, bound: float
) -> RegressionGate:
    before, after = stats.baseline_score, stats.run_score
    assert before is not None and after is not None  # only paired cases are gated
    drop = before - after
    held = round(drop, 4) <= bound  # rounded as shown, so 0.9 -> 0.85 meets a bound of 0.05
    message = (
        ""
        if held
        else f"{label}: paired score {before:.3f} -> {after:.3f}, a drop of {drop:.3f} > "
        f"{bound:g} (flips {flips(stats)}, p={p_text(stats.p_value)})"
    )
    return RegressionGate("max_drop", suite, metric, bound, stats, held, message)

"""The comparison with a baseline inside a run (--trainloop-baseline). Pure (no pytest).

Two sides:
- in every process that runs cases, the baseline's verdicts by (suite, metric, event id),
  read once per process and only when a case needs them: for JUnit's
  `trainloop_baseline_verdict`, and for a regression gate that tolerates a failing case;
- in the aggregating process, at the end of the run: the comparison of the run's results with
  the baseline file (compare.py), its section and its gates (regression.py) added to the
  results before they are written.

A regression gate tolerates a failing case (xfailed, as min_score does) only when the case is
paired: when the baseline has a verdict for its event. The gate judges paired cases only, so a
failure it cannot see (a new event, or a metric the baseline lacks) is not hidden by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # imported where a run compares: every run imports this module's first half
    from pytest_trainloop.compare import Comparison
    from pytest_trainloop.regression import RegressionGate

ABSENT = "absent"  # JUnit's baseline verdict of a case whose event the baseline did not evaluate

# (suite, metric) -> {event id: verdict}
Verdicts = dict[tuple[str, str], dict[str, str]]


# --- where cases run ----------------------------------------------------------------------------


def read_verdicts(path: Path) -> Verdicts:
    """The baseline's verdict of each case. The file was checked at start-up (settings.py); one
    that has changed into something else since gives no verdict (the aggregating process, which
    reads it again, says what is wrong)."""
    try:
        return verdicts_of(orjson.loads(path.read_bytes()))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def verdicts_of(results: Mapping[str, Any]) -> Verdicts:
    """The verdict of each case of a results file's data."""
    return {
        (suite, metric): {row["event_id"]: row["verdict"] for row in entry["details"]}
        for suite, values in results["suites"].items()
        for metric, entry in values["metrics"].items()
    }


def tolerating_label(
    max_drop: float | None, fail_on_regression: bool, overall_max_drop: float | None
) -> str | None:
    """The regression gate that would tolerate a metric's failing paired cases, if any."""
    if max_drop is not None:
        return f"max_drop={max_drop:g}"
    if fail_on_regression:
        return "--trainloop-fail-on-regression"
    if overall_max_drop is not None:
        return f"--trainloop-max-drop={overall_max_drop:g}"
    return None


@dataclass(frozen=True, slots=True)
class MetricBaseline:
    """One metric's cases in the baseline, as the process running its cases sees them."""

    verdicts: Mapping[str, str]  # event id -> the baseline's verdict
    tolerating: str | None  # the regression gate that tolerates its failing paired cases

    def verdict(self, event_id: str) -> str:
        return self.verdicts.get(event_id, ABSENT)

    def tolerates(self, failed_ids: Iterable[str]) -> str | None:
        """The gate that tolerates these failing cases: only if it applies and pairs them all."""
        gate = self.tolerating
        if gate is None:
            return None
        verdicts = self.verdicts
        return gate if all(event_id in verdicts for event_id in failed_ids) else None


# --- at the end of the run ----------------------------------------------------------------------


@dataclass(frozen=True)
class Compared:
    """The run's comparison with its baseline, and the regression gates that applied."""

    comparison: Comparison
    gates: list[RegressionGate]
    verdicts: Verdicts  # the baseline's, case by case: its gates tolerate failures on its events

    @property
    def failed(self) -> list[RegressionGate]:
        return [gate for gate in self.gates if not gate.held]


def apply(
    data: dict[str, Any],
    baseline: Path,
    alpha: float,
    fail_on_regression: bool,
    overall_max_drop: float | None,
) -> Compared:
    """Compare the run's results `data` (results.build's) with the `baseline` file: add the
    `comparison` section, and the regression gates to `gates` and `gates_held`. A partial run
    is compared on the cases it has. A ResultsFileError when the file cannot be read."""
    from pytest_trainloop.compare import compare, read_results
    from pytest_trainloop.regression import gate_checks, max_drops

    base = read_results(baseline)
    comparison = compare(base, data, str(baseline), alpha)
    # The markers' bounds as the results record them: the console script reads them there too.
    gates = gate_checks(comparison, fail_on_regression, max_drops(data), overall_max_drop)
    data["gates"] += [gate.as_json() for gate in gates]
    data["gates_held"] = data["gates_held"] and all(gate.held for gate in gates)
    data["comparison"] = comparison.as_json()
    return Compared(comparison, gates, verdicts_of(base))

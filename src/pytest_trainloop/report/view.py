"""What the HTML page and the Markdown summary show, read once from a results dict.

Both views take the results JSON as it was written (or read back), so every key may be absent:
files of older runs lack `complete` and `comparison`, a run whose suites selected nothing lacks
metrics. Reading it here, once, keeps the two renderers to layout and escaping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_trainloop.stats import wilson_interval

__all__ = [
    "CaseView",
    "GateView",
    "MetricView",
    "RunView",
    "SuiteView",
    "failing_cases",
    "run_view",
]

# Configuration keys that say where the events came from rather than which of them ran.
_NOT_SELECTION = frozenset({"data_folder", "data_folder_source", "seed"})


@dataclass(frozen=True)
class GateView:
    gate: str  # "min_score", "fail_under", or any gate another part of the plugin adds
    suite: str | None
    metric: str | None
    bound: float | None
    score: float | None
    held: bool

    @property
    def target(self) -> str:
        """What the gate bounds: `suite/metric`, a suite, or the overall score."""
        if self.suite and self.metric:
            return f"{self.suite}/{self.metric}"
        return self.suite or self.metric or "overall"

    def covers(self, suite: str, metric: str) -> bool:
        """Whether this gate tolerates the metric's failing cases (a gate on the overall score
        tolerates every metric's)."""
        if self.suite is None and self.metric is None:
            return True
        return self.suite == suite and self.metric in (None, metric)


@dataclass(frozen=True)
class Comparison:
    """One metric (or suite) against the baseline, as the comparison section recorded it."""

    baseline_score: float | None
    run_score: float | None
    change: float | None
    newly_failed: int
    newly_passed: int
    p_value: float | None
    regressed: bool
    newly_failed_ids: frozenset[str]


@dataclass(frozen=True)
class MetricView:
    suite: str
    metric: str
    passed: int
    failed: int
    errors: int
    total: int
    score: float | None
    interval: tuple[float, float] | None  # 95% Wilson interval of passed/total
    min_score: float | None
    gates: tuple[GateView, ...]
    comparison: Comparison | None
    details: list[dict[str, Any]] = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.suite}/{self.metric}"


@dataclass(frozen=True)
class SuiteView:
    name: str
    overall_score: float | None
    passed: int
    total: int
    tags: tuple[str, ...]
    left_out_errors: int
    skipped: str | None  # why the suite ran nothing, when it did not
    metrics: tuple[MetricView, ...]
    comparison: Comparison | None


@dataclass(frozen=True)
class CaseView:
    """A failing case or an error, pointing at its detail in the results."""

    metric: MetricView
    detail: dict[str, Any] = field(repr=False)
    newly_failed: bool

    @property
    def event_id(self) -> str:
        return str(self.detail.get("event_id", ""))

    @property
    def verdict(self) -> str:
        return "error" if self.detail.get("verdict") == "error" else "failed"

    @property
    def reason(self) -> str:
        return str(self.detail.get("reason") or "")


@dataclass(frozen=True)
class RunView:
    timestamp: str
    data_folder: str
    data_folder_source: str
    selection: tuple[tuple[str, Any], ...]  # configuration entries that narrowed the run
    complete: bool | None  # None: the file predates the mark
    partial: tuple[str, ...]
    passed: int
    failed: int
    errors: int
    total: int
    overall_score: float | None
    interval: tuple[float, float] | None
    gates: tuple[GateView, ...]
    gates_held: bool
    verdict_passed: bool
    verdict: str  # why the run passes or fails, in a few words
    suites: tuple[SuiteView, ...]
    metrics: tuple[MetricView, ...]
    bad_lines: tuple[str, ...]
    bad_line_count: int
    left_out_errors: int
    baseline_file: str | None
    baseline_timestamp: str | None
    alpha: float | None

    @property
    def has_comparison(self) -> bool:
        return self.baseline_file is not None or self.baseline_timestamp is not None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _comparison(entry: object) -> Comparison | None:
    if not isinstance(entry, dict):
        return None
    ids = entry.get("newly_failed_ids")
    return Comparison(
        baseline_score=_float(entry.get("baseline_score")),
        run_score=_float(entry.get("run_score")),
        change=_float(entry.get("change")),
        newly_failed=_int(entry.get("newly_failed")),
        newly_passed=_int(entry.get("newly_passed")),
        p_value=_float(entry.get("p_value")),
        regressed=entry.get("regressed") is True,
        newly_failed_ids=frozenset(str(i) for i in ids) if isinstance(ids, list) else frozenset(),
    )


def _gates(results: Mapping[str, Any]) -> tuple[GateView, ...]:
    gates = results.get("gates")
    if not isinstance(gates, list):
        return ()
    return tuple(
        GateView(
            gate=str(g.get("gate", "gate")),
            suite=g.get("suite") if isinstance(g.get("suite"), str) else None,
            metric=g.get("metric") if isinstance(g.get("metric"), str) else None,
            bound=_float(g.get("bound")),
            score=_float(g.get("score")),
            held=g.get("held") is not False,
        )
        for g in gates
        if isinstance(g, dict)
    )


def _verdict(
    gates: tuple[GateView, ...], metrics: tuple[MetricView, ...], unattributed: int
) -> tuple[bool, str]:
    """Whether the run's evaluation passes, by the rules of the exit code (README, "Gates and
    the exit code"): a gate that did not hold fails it, an error always does, and so does a
    failing case of a metric no gate covers."""
    broken = [g for g in gates if not g.held]
    if broken:
        names = ", ".join(f"{g.gate} of {g.target}" for g in broken)
        return False, f"{len(broken)} gate(s) did not hold ({names})"
    errors = sum(m.errors for m in metrics) + unattributed
    if errors:
        return False, f"{errors} error(s) (errors are never tolerated)"
    ungated = sum(m.failed for m in metrics if not m.gates)
    if ungated:
        return False, f"{ungated} failing case(s) of metrics without a gate"
    if gates:
        return True, f"every gate held ({len(gates)})"
    return True, "no case failed"


def run_view(results: Mapping[str, Any]) -> RunView:
    """Read a results dict, tolerating absent keys, into what the views show."""
    gates = _gates(results)
    comparison = _dict(results.get("comparison"))
    compared_suites = _dict(comparison.get("suites"))
    suites: list[SuiteView] = []
    all_metrics: list[MetricView] = []
    for suite_name, suite in sorted(_dict(results.get("suites")).items()):
        suite = _dict(suite)
        compared = _dict(compared_suites.get(suite_name))
        compared_metrics = _dict(compared.get("metrics"))
        metrics: list[MetricView] = []
        for metric_name, m in sorted(_dict(suite.get("metrics")).items()):
            m = _dict(m)
            passed, total = _int(m.get("passed")), _int(m.get("total"))
            details = m.get("details")
            if isinstance(details, Sequence) and not isinstance(details, str):
                # a list from a file, or a run's `summary.Details` (results.build)
                details = [d for d in details if isinstance(d, dict)]
            metrics.append(
                MetricView(
                    suite=suite_name,
                    metric=metric_name,
                    passed=passed,
                    failed=_int(m.get("failed")),
                    errors=_int(m.get("errors")),
                    total=total,
                    score=_float(m.get("score")),
                    interval=wilson_interval(passed, total) if 0 <= passed <= total else None,
                    min_score=_float(m.get("min_score")),
                    gates=tuple(g for g in gates if g.covers(suite_name, metric_name)),
                    comparison=_comparison(compared_metrics.get(metric_name)),
                    details=details if isinstance(details, list) else [],
                )
            )
        tags = suite.get("tags")
        suites.append(
            SuiteView(
                name=suite_name,
                overall_score=_float(suite.get("overall_score")),
                passed=sum(m.passed for m in metrics),
                total=sum(m.total for m in metrics),
                tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
                left_out_errors=_int(suite.get("left_out_errors")),
                skipped=str(suite["skipped"]) if suite.get("skipped") else None,
                metrics=tuple(metrics),
                comparison=_comparison(compared) if compared else None,
            )
        )
        all_metrics.extend(metrics)

    summary = _dict(results.get("summary"))
    passed = _int(summary.get("passed")) or sum(m.passed for m in all_metrics)
    total = _int(summary.get("total")) or sum(m.total for m in all_metrics)
    configuration = _dict(results.get("configuration"))
    selection = tuple(
        (key, value)
        for key, value in configuration.items()
        if key not in _NOT_SELECTION and value not in (None, False, [], {}, "")
    )
    if configuration.get("sample") is not None:  # the seed matters only to a sample
        selection += (("seed", configuration.get("seed")),)
    complete = results.get("complete")
    partial = results.get("partial")
    bad = _dict(results.get("bad_lines"))
    bad_lines = bad.get("lines")
    baseline = _dict(comparison.get("baseline"))
    metrics_tuple = tuple(all_metrics)
    verdict_passed, verdict = _verdict(
        gates, metrics_tuple, _int(summary.get("unattributed_errors"))
    )
    return RunView(
        timestamp=str(results.get("timestamp") or ""),
        data_folder=str(configuration.get("data_folder") or ""),
        data_folder_source=str(configuration.get("data_folder_source") or ""),
        selection=selection,
        complete=complete if isinstance(complete, bool) else None,
        partial=tuple(str(p) for p in partial) if isinstance(partial, list) else (),
        passed=passed,
        failed=_int(summary.get("failed")) or sum(m.failed for m in all_metrics),
        errors=_int(summary.get("errors")) or sum(m.errors for m in all_metrics),
        total=total,
        overall_score=_float(summary.get("overall_score")),
        interval=wilson_interval(passed, total) if 0 <= passed <= total else None,
        gates=gates,
        gates_held=all(g.held for g in gates),
        verdict_passed=verdict_passed,
        verdict=verdict,
        suites=tuple(suites),
        metrics=metrics_tuple,
        bad_lines=tuple(str(line) for line in bad_lines) if isinstance(bad_lines, list) else (),
        bad_line_count=_int(bad.get("count")),
        left_out_errors=_int(summary.get("left_out_errors")),
        baseline_file=str(baseline["file"]) if baseline.get("file") else None,
        baseline_timestamp=str(baseline["timestamp"]) if baseline.get("timestamp") else None,
        alpha=_float(comparison.get("alpha")),
    )


def _score_key(metric: MetricView) -> float:
    return 2.0 if metric.score is None else metric.score


def failing_cases(run: RunView) -> list[CaseView]:
    """Every failing case and error: newly failed first, then by metric, worst score first,
    then by event id (the order details are written in)."""
    cases: list[CaseView] = []
    for metric in sorted(run.metrics, key=_score_key):
        if not metric.failed and not metric.errors:
            continue
        new = metric.comparison.newly_failed_ids if metric.comparison else frozenset()
        # Most details are passes: they are skipped in one comprehension, not one by one.
        bad = [d for d in metric.details if d.get("verdict") in ("failed", "error")]
        cases.extend(CaseView(metric, d, d.get("event_id") in new) for d in bad)
    # A stable sort: within each group the metric and event order above is kept.
    cases.sort(key=lambda case: not case.newly_failed)
    return cases

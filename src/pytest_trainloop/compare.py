"""A run against a baseline, case by case: reading results files, pairing, paired statistics.
Pure (no pytest): the plugin and the `pytest-trainloop compare` script share it; the gates are
in regression.py, the terminal view in report/comparison.py.

Cases pair by (suite, metric, event id). A case passes when its verdict is "passed" (a failure
and an error both do not). Its score is the `score` its row carries, else 1.0 when it passed
and 0.0 otherwise. A metric *has float scores* when any row of it, in either file, carries a
score other than exactly 0 or 1 (a judge's vote fraction, a similarity); such a metric gets the
bootstrap interval of its mean paired score difference on top of McNemar's test on its flips.
A suite, and the whole run, pool all their paired cases the same way (and get an interval when
one of their metrics has float scores).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pytest_trainloop.stats import bootstrap_mean_ci, mcnemar_exact

DEFAULT_ALPHA = 0.05
RESULTS_PREFIX = "evaluation_results_"
_VERDICTS = frozenset({"passed", "failed", "error"})


class ResultsFileError(Exception):
    """A file that cannot be compared: missing, unreadable, or not a results file. The message
    names the path and says what is wrong."""


# --- reading ------------------------------------------------------------------------------------


def read_results(path: Path) -> dict[str, Any]:
    """A run's results file, checked to hold what pairing needs (every case's id and verdict)."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ResultsFileError(f"{path}: is a folder, not a results file") from None
    except OSError as exc:
        raise ResultsFileError(f"{path}: cannot be read ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise ResultsFileError(f"{path}: not a results file (not valid JSON: {exc})") from None
    problem = _shape_problem(data)
    if problem:
        raise ResultsFileError(f"{path}: not a results file ({problem})")
    return data  # type: ignore[no-any-return]


def _shape_problem(data: object) -> str | None:
    """What keeps `data` from being a run's results, or None."""
    if not isinstance(data, dict) or not isinstance(data.get("suites"), dict):
        return "no 'suites' object at the top"
    for suite, values in data["suites"].items():
        metrics = values.get("metrics") if isinstance(values, dict) else None
        if not isinstance(metrics, dict):
            return f"suite {suite!r} has no 'metrics' object"
        for metric, entry in metrics.items():
            where = f"{suite}/{metric}"
            details = entry.get("details") if isinstance(entry, dict) else None
            if not isinstance(details, list):
                # evaluation_summary.json leaves the cases out: a likely mix-up, so say so.
                return f"{where} has no per-case 'details' (a summary file? use the run's file)"
            for row in details:
                if not isinstance(row, dict) or not isinstance(row.get("event_id"), str):
                    return f"a case of {where} has no 'event_id'"
                if row.get("verdict") not in _VERDICTS:
                    return f"case {row['event_id']} of {where} has no valid 'verdict'"
                score = row.get("score")
                if score is not None and not isinstance(score, (int, float)):
                    return f"case {row['event_id']} of {where} has a 'score' that is not a number"
    return None


def _run_order(path: Path) -> tuple[str, int]:
    """Sort key of a run file: its UTC stamp, then the `_2`, `_3` of runs in the same second."""
    stamp, _, n = path.stem.removeprefix(RESULTS_PREFIX).partition("_")
    return stamp, int(n) if n.isdigit() else 1


def latest_complete(results_dir: Path, exclude: Path | None = None) -> Path | None:
    """The newest complete run's file in `results_dir` other than `exclude`, or None.

    A run is complete only when its file says `"complete": true`; a file without the flag was
    written before runs recorded it and may hold a partial run (`-k`, `-x`), so it is passed
    over, as are files that cannot be read. Files are read newest first until one qualifies.
    """
    skip = exclude.resolve() if exclude is not None else None
    runs = sorted(results_dir.glob(f"{RESULTS_PREFIX}*.json"), key=_run_order, reverse=True)
    for path in runs:
        if skip is not None and path.resolve() == skip:
            continue
        try:
            if read_results(path).get("complete") is True:
                return path
        except ResultsFileError:
            continue
    return None


# --- the comparison -----------------------------------------------------------------------------


# The paired cases' counts, as `Stats` and the pool it is made from both keep them.
_COUNTS = (
    "both_passed",
    "both_failed",
    "newly_failed",
    "newly_passed",
    "only_in_run",
    "only_in_baseline",
)


def _counts(of: object) -> dict[str, int]:
    return {name: getattr(of, name) for name in _COUNTS}


@dataclass(frozen=True)
class Stats:
    """What changed between the paired cases of a metric, a suite or the whole run."""

    both_passed: int
    both_failed: int
    newly_failed: int
    newly_passed: int
    only_in_run: int
    only_in_baseline: int
    float_scores: bool
    p_value: float
    mean_difference: float | None  # these three only with float scores
    ci_low: float | None
    ci_high: float | None
    regressed: bool

    @property
    def paired(self) -> int:
        return self.both_passed + self.both_failed + self.newly_failed + self.newly_passed

    @property
    def baseline_score(self) -> float | None:
        """The pass rate in the baseline on the paired cases."""
        paired = self.paired
        return (self.both_passed + self.newly_failed) / paired if paired else None

    @property
    def run_score(self) -> float | None:
        paired = self.paired
        return (self.both_passed + self.newly_passed) / paired if paired else None

    @property
    def change(self) -> float | None:
        paired = self.paired
        return (self.newly_passed - self.newly_failed) / paired if paired else None

    def as_json(self) -> dict[str, Any]:
        return {
            **_counts(self),
            "baseline_score": _round(self.baseline_score),
            "run_score": _round(self.run_score),
            "change": _round(self.change),
            "p_value": self.p_value,
            "float_scores": self.float_scores,
            "mean_difference": _round(self.mean_difference),
            "ci_low": _round(self.ci_low),
            "ci_high": _round(self.ci_high),
            "regressed": self.regressed,
        }


@dataclass(frozen=True)
class MetricComparison(Stats):
    newly_failed_ids: tuple[str, ...]  # sorted
    newly_passed_ids: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            **super().as_json(),
            "newly_failed_ids": list(self.newly_failed_ids),
            "newly_passed_ids": list(self.newly_passed_ids),
        }


@dataclass(frozen=True)
class SuiteComparison:
    stats: Stats
    metrics: dict[str, MetricComparison]


@dataclass(frozen=True)
class Comparison:
    baseline_file: str
    baseline_timestamp: str | None
    alpha: float
    suites: dict[str, SuiteComparison]
    overall: Stats

    def metric(self, suite: str, metric: str) -> MetricComparison | None:
        found = self.suites.get(suite)
        return None if found is None else found.metrics.get(metric)

    def as_json(self) -> dict[str, Any]:
        """The results file's `comparison` section."""
        return {
            "baseline": {"file": self.baseline_file, "timestamp": self.baseline_timestamp},
            "alpha": self.alpha,
            "suites": {
                name: {
                    **suite.stats.as_json(),
                    "metrics": {m: s.as_json() for m, s in suite.metrics.items()},
                }
                for name, suite in self.suites.items()
            },
            "overall": self.overall.as_json(),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass
class _Pool:
    """Paired cases folded into counts, and the score differences the bootstrap needs."""

    both_passed: int = 0
    both_failed: int = 0
    newly_failed: int = 0
    newly_passed: int = 0
    only_in_run: int = 0
    only_in_baseline: int = 0
    float_scores: bool = False
    # Differences of metrics with float scores; a pass/fail metric's are -1, 0 or +1, which its
    # counts already hold: they are spelled out only when a pool mixes both kinds.
    differences: list[float] = field(default_factory=list)
    pass_fail_paired: int = 0
    pass_fail_change: tuple[int, int] = (0, 0)  # newly failed, newly passed

    def add(self, other: _Pool) -> None:
        self.both_passed += other.both_passed
        self.both_failed += other.both_failed
        self.newly_failed += other.newly_failed
        self.newly_passed += other.newly_passed
        self.only_in_run += other.only_in_run
        self.only_in_baseline += other.only_in_baseline
        self.float_scores |= other.float_scores
        self.differences += other.differences
        self.pass_fail_paired += other.pass_fail_paired
        down, up = other.pass_fail_change
        self.pass_fail_change = (self.pass_fail_change[0] + down, self.pass_fail_change[1] + up)

    def _all_differences(self) -> list[float]:
        down, up = self.pass_fail_change
        same = self.pass_fail_paired - down - up
        return self.differences + [-1.0] * down + [1.0] * up + [0.0] * same

    def stats(self, alpha: float, seed: int) -> Stats:
        return Stats(**self._fields(alpha, seed))

    def _fields(self, alpha: float, seed: int) -> dict[str, Any]:
        p = mcnemar_exact(self.newly_failed, self.newly_passed)
        mean = low = high = None
        if self.float_scores and self.differences:
            differences = self._all_differences()
            mean = math.fsum(differences) / len(differences)
            low, high = bootstrap_mean_ci(differences, 1.0 - alpha, seed)
        regressed = (self.newly_failed > self.newly_passed and p < alpha) or (
            high is not None and high < 0.0
        )
        return {
            **_counts(self),
            "float_scores": self.float_scores,
            "p_value": p,
            "mean_difference": mean,
            "ci_low": low,
            "ci_high": high,
            "regressed": regressed,
        }


def _cases(entry: Mapping[str, Any] | None) -> tuple[dict[str, tuple[bool, float]], bool]:
    """A metric's cases by event id as (passed, score), and whether any score is fractional."""
    cases: dict[str, tuple[bool, float]] = {}
    fractional = False
    for row in entry["details"] if entry else ():
        passed = row["verdict"] == "passed"
        score = row.get("score")
        if score is None:
            score = 1.0 if passed else 0.0
        elif score != 0 and score != 1:
            fractional = True
        cases[row["event_id"]] = (passed, float(score))
    return cases, fractional


def _pair_metric(
    baseline: Mapping[str, Any] | None, run: Mapping[str, Any] | None
) -> tuple[_Pool, list[str], list[str]]:
    before, fractional_before = _cases(baseline)
    after, fractional_after = _cases(run)
    pool = _Pool(float_scores=fractional_before or fractional_after)
    failed_ids: list[str] = []
    passed_ids: list[str] = []
    both_passed = both_failed = 0
    for event_id, (passed_before, score_before) in before.items():
        now = after.get(event_id)
        if now is None:
            continue
        passed_now, score_now = now
        if passed_before:
            if passed_now:
                both_passed += 1
            else:
                failed_ids.append(event_id)
        elif passed_now:
            passed_ids.append(event_id)
        else:
            both_failed += 1
        if pool.float_scores:
            pool.differences.append(score_now - score_before)
    pool.both_passed, pool.both_failed = both_passed, both_failed
    pool.newly_failed, pool.newly_passed = len(failed_ids), len(passed_ids)
    paired = pool.both_passed + pool.both_failed + pool.newly_failed + pool.newly_passed
    pool.only_in_baseline = len(before) - paired
    pool.only_in_run = len(after) - paired
    if not pool.float_scores:
        pool.pass_fail_paired, pool.pass_fail_change = paired, (len(failed_ids), len(passed_ids))
    return pool, sorted(failed_ids), sorted(passed_ids)


def _seed(*names: str) -> int:
    """A bootstrap seed per metric and suite: stable across processes (never `hash()`)."""
    return zlib.crc32("\0".join(names).encode())


def compare(
    baseline: Mapping[str, Any],
    run: Mapping[str, Any],
    baseline_file: str,
    alpha: float = DEFAULT_ALPHA,
) -> Comparison:
    """Pair `run` with `baseline` (both results dicts) and compute the statistics.

    Metrics and suites present on one side only are kept, with all their cases counted in
    `only_in_run` or `only_in_baseline`. Intervals are at 1 - alpha, seeded per metric and suite,
    so the same two files always give the same comparison.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    base_suites: Mapping[str, Any] = baseline["suites"]
    run_suites: Mapping[str, Any] = run["suites"]
    suites: dict[str, SuiteComparison] = {}
    overall = _Pool()
    for suite in sorted(set(base_suites) | set(run_suites)):
        base_metrics = base_suites.get(suite, {}).get("metrics", {})
        run_metrics = run_suites.get(suite, {}).get("metrics", {})
        pooled = _Pool()
        metrics: dict[str, MetricComparison] = {}
        for metric in sorted(set(base_metrics) | set(run_metrics)):
            pool, failed_ids, passed_ids = _pair_metric(
                base_metrics.get(metric), run_metrics.get(metric)
            )
            metrics[metric] = MetricComparison(
                **pool._fields(alpha, _seed(suite, metric)),
                newly_failed_ids=tuple(failed_ids),
                newly_passed_ids=tuple(passed_ids),
            )
            pooled.add(pool)
        suites[suite] = SuiteComparison(pooled.stats(alpha, _seed(suite)), metrics)
        overall.add(pooled)
    timestamp = baseline.get("timestamp")
    return Comparison(
        baseline_file=baseline_file,
        baseline_timestamp=timestamp if isinstance(timestamp, str) else None,
        alpha=alpha,
        suites=suites,
        # One suite is the whole run: its statistics, without a second bootstrap of the same pool.
        overall=suites[next(iter(suites))].stats if len(suites) == 1 else overall.stats(alpha, 0),
    )


# --- shared by the gates and the views ----------------------------------------------------------


def flips(stats: Stats) -> str:
    """`-3 +1`: cases newly failed, newly passed."""
    return f"-{stats.newly_failed} +{stats.newly_passed}"


def p_text(value: float) -> str:
    """A p-value as shown: three decimals, or a power of ten when smaller than 0.001."""
    return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"

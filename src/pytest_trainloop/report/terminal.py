"""The terminal view of a run: the lines its summary prints, from the tally and the gates.

Pure: no pytest and no terminal here; the session writes the lines (and the title's rule), so
that this view is tested and changed apart from pytest's reporter.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pytest_trainloop.report.comparison import (
    COLUMNS,
    cells,
    gate_lines,
    newly_failed_lines,
    overall_line,
)
from pytest_trainloop.report.files import ReportFile
from pytest_trainloop.results import SUMMARY_NAME
from pytest_trainloop.summary import Gate, Tally, usage_sums

if TYPE_CHECKING:
    from pytest_trainloop.baseline import Compared

TITLE = "trainloop"
_REASONS_SHOWN = 3


class Line(NamedTuple):
    text: str
    markup: tuple[str, ...] = ()  # names of the terminal's markup: "red", "yellow", "bold"


def _table(tally: Tally, gates: list[Gate], compared: Compared | None) -> list[Line]:
    """One row per metric; with a baseline, its columns after the score (compared on the
    paired cases) and REGRESSED beside a metric that did."""
    by_metric = {(g.suite, g.metric): g for g in gates}
    rows: list[tuple[str, ...]] = [
        ("suite", "metric", "passed/total", "score", *(COLUMNS if compared else ()), "gate", "")
    ]
    for suite, tallies in tally.suites().items():
        for t in tallies:
            gate = by_metric.get((suite, t.metric))
            status = "" if gate is None else ("held" if gate.held else "NOT MET")
            extra: tuple[str, ...] = ()
            if compared is not None:
                stats = compared.comparison.metric(suite, t.metric)
                extra = cells(stats)
                if stats is not None and stats.regressed:
                    status = f"{status}, REGRESSED" if status else "REGRESSED"
            rows.append(
                (
                    suite,
                    t.metric,
                    f"{t.passed}/{t.total}" + (f" ({t.errors} errors)" if t.errors else ""),
                    "-" if t.score is None else f"{t.score:.3f}",
                    *extra,
                    "" if gate is None else f">= {gate.bound:g}",
                    status,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        Line("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        for row in rows
    ]


def _overall(tally: Tally) -> Line:
    passed, failed, errors = tally.totals()
    overall = tally.overall_score()
    unattributed = tally.unattributed_errors
    return Line(
        f"overall: {passed}/{passed + failed + errors} passed"
        + ("" if overall is None else f", score {overall:.3f}")
        + (f", {errors} errors" if errors else "")
        + (f" ({unattributed} unattributed)" if unattributed else "")
    )


def _reasons(tally: Tally) -> list[Line]:
    reasons = [  # sorted throughout, so that the same run prints the same lines
        Line(f"  {t.suite}/{t.metric}: {count}x {reason}")
        for _, t in sorted(tally.metrics.items())
        for reason, count in sorted(t.reasons.items(), key=lambda rc: (-rc[1], rc[0]))[
            :_REASONS_SHOWN
        ]
    ]
    return [Line("most common reasons for failures and errors:"), *reasons] if reasons else []


def _gates_not_met(tally: Tally, gates: list[Gate]) -> list[Line]:
    lines = []
    for gate in gates:
        if gate.name == "not_empty" and not gate.held:
            why = tally.must_not_be_empty[(str(gate.suite), str(gate.metric))]
            text = f"trainloop: {gate.label}: {why}; allow_empty=True on its marker accepts that"
            lines.append(Line(text, ("red", "bold")))
        elif not gate.held:
            text = f"trainloop gate not met: {gate.label}: score {gate.score:.3f} < {gate.bound:g}"
            lines.append(Line(text, ("red", "bold")))
    return lines


def _reports(reports: Sequence[ReportFile]) -> list[Line]:
    return [
        Line(f"{r.label}: {r.path}")
        if r.error is None
        else Line(f"trainloop: could not write the {r.label} {r.path}: {r.error}", ("red", "bold"))
        for r in reports
    ]


def terminal_lines(
    tally: Tally,
    gates: list[Gate],
    bad_lines: int,
    results_path: Path | None,
    summary_left_because: list[str],
    verbose: bool,
    compared: Compared | None = None,
    *,
    reports: Sequence[ReportFile] = (),
) -> list[Line]:
    """The lines of the run's summary, after its title. `summary_left_because`: why the run
    left evaluation_summary.json as it was (a partial run), empty when it did not. `compared`:
    the run against its baseline (--trainloop-baseline); `reports`: the report files written
    after the results."""
    lines = _table(tally, gates, compared)
    lines += [Line(f"{suite}: skipped, {why}") for suite, why in sorted(tally.empty_suites.items())]
    lines.append(_overall(tally))
    if compared is not None:
        lines.append(Line(overall_line(compared.comparison)))
        lines += [Line(text) for text in newly_failed_lines(compared.comparison)]
    if verbose:
        lines += _reasons(tally)
        if tally.left_out_total:
            lines.append(Line(f"failed calls left out (output null): {tally.left_out_total}"))
    if bad_lines:
        lines.append(
            Line(f"bad event lines: {bad_lines} (listed in the results file)", ("yellow",))
        )
    judged = tally.judge_usage()
    if judged:
        sums = usage_sums(judged)
        lines.append(
            Line(
                f"judge: {sums.get('calls', 0)} calls, {sums.get('cache_hits', 0)} cache hits, "
                f"{sums.get('prompt_tokens', 0)} prompt + {sums.get('completion_tokens', 0)} "
                f"completion tokens ({', '.join(sorted(judged))})"
            )
        )
    if results_path is not None:
        lines.append(Line(f"results: {results_path}"))
        if summary_left_because:
            lines.append(
                Line(
                    f"trainloop: {SUMMARY_NAME} left as it was: a partial run "
                    f"({'; '.join(summary_left_because)})",
                    ("yellow",),
                )
            )
    lines += _reports(reports)
    lines += _gates_not_met(tally, gates)
    if compared is not None:
        lines += [Line(text, ("red", "bold")) for text in gate_lines(compared.failed)]
    return lines

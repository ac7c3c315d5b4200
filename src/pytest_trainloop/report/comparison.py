"""The terminal view of a comparison: the cells the summary table gains, the console script's
table, the overall line, the newly failed ids, the red lines of failed regression gates.

Pure: data in, lines out. Names and ids come from files: none reaches the terminal with a
control character in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_trainloop.compare import Comparison, Stats, flips, p_text
from pytest_trainloop.regression import RegressionGate

IDS_SHOWN = 10  # newly failed ids listed per metric; the rest are counted
COLUMNS = ("baseline", "change", "flips", "p")


def _printable(text: str) -> str:
    """Names and ids come from files: no control character reaches the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def cells(stats: Stats | None) -> tuple[str, str, str, str]:
    """A row's extra cells under COLUMNS: baseline score, change, flips, p (paired cases)."""
    if stats is None or stats.baseline_score is None or stats.change is None:
        return ("-", "-", "", "")  # nothing paired: a new metric, or one the baseline lacks
    return (
        f"{stats.baseline_score:.3f}",
        f"{stats.change:+.3f}",
        flips(stats),
        p_text(stats.p_value),
    )


def table_lines(run: Mapping[str, Any], comparison: Comparison) -> list[str]:
    """The summary table of a run with the comparison's columns, and an overall line.

    The plugin adds `cells` to its own table instead; this is the console script's table.
    """
    rows = [("suite", "metric", "passed/total", "score", *COLUMNS, "")]
    run_suites: Mapping[str, Any] = run["suites"]
    for suite, found in comparison.suites.items():
        for metric, stats in found.metrics.items():
            entry = run_suites.get(suite, {}).get("metrics", {}).get(metric)
            counts = score = "-"
            if entry is not None:
                errors = entry.get("errors") or 0
                counts = f"{entry.get('passed')}/{entry.get('total')}" + (
                    f" ({errors} errors)" if errors else ""
                )
                if isinstance(entry.get("score"), (int, float)):
                    score = f"{entry['score']:.3f}"
            rows.append(
                (
                    _printable(suite),
                    _printable(metric),
                    counts,
                    score,
                    *cells(stats),
                    "REGRESSED" if stats.regressed else "",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return [*lines, overall_line(comparison)]


def overall_line(comparison: Comparison) -> str:
    """One line: the baseline, the paired overall scores, flips, p, and the unpaired cases."""
    stats = comparison.overall
    where = f"compared with {_printable(comparison.baseline_file)}"
    if comparison.baseline_timestamp:
        where += f" ({_printable(comparison.baseline_timestamp)})"
    unpaired = (
        f"{stats.only_in_run} only in this run, {stats.only_in_baseline} only in the baseline"
    )
    if stats.baseline_score is None or stats.run_score is None:
        return f"{where}: no case in common; {unpaired}"
    line = (
        f"{where}: {stats.paired} paired cases, score {stats.baseline_score:.3f} -> "
        f"{stats.run_score:.3f}, flips {flips(stats)}, p={p_text(stats.p_value)}"
    )
    if stats.regressed:
        line += ", REGRESSED"
    return f"{line}; {unpaired}"


def newly_failed_lines(comparison: Comparison, shown: int = IDS_SHOWN) -> list[str]:
    """Per metric, the event ids that passed in the baseline and not now: the first `shown`,
    then how many more. Nothing when no case newly failed."""
    lines: list[str] = []
    for suite, found in comparison.suites.items():
        for metric, stats in found.metrics.items():
            ids = stats.newly_failed_ids
            if not ids:
                continue
            listed = ", ".join(_printable(i) for i in ids[:shown])
            more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
            lines.append(f"  {_printable(suite)}/{_printable(metric)}: {listed}{more}")
    return ["newly failed since the baseline:", *lines] if lines else []


def gate_lines(failed: Sequence[RegressionGate]) -> list[str]:
    """The red lines of failed regression gates, worded like the other gates' lines."""
    return [f"trainloop gate not met: {_printable(gate.message)}" for gate in failed]

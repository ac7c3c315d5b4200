"""The Markdown summary: the table, the gates and the newly failed cases, for a pull request or
GitHub's job summary.

Text from events, reasons, judges and names reaches the Markdown through `_md` alone: one table
cell per value, whatever it holds (`|`, backticks, newlines, `<`, link or emphasis syntax).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pytest_trainloop.report.view import CaseView, MetricView, RunView, failing_cases, run_view

__all__ = ["render_markdown"]

CASES_LISTED = 50  # a job summary is capped at 1 MiB: list the first cases, count the rest
_CUT = 200  # characters of a reason or reply in a cell

# The characters that start inline markup mid-line (code, emphasis, links and images,
# strikethrough, GitHub's math) or end a cell, escaped with a backslash; `&`, `<` and `>` become
# entities instead. Block markup (`#`, `-`, `>` at a line's start) cannot arise: untrusted text
# never starts a line.
_PUNCTUATION = re.compile(r"([\\`*_\[\]!|~$])")
_DASH, _MINUS = "\u2013", "\u2212"  # the en dash of "none" and ranges, a minus sign
_NEWLINES = re.compile(r"\r\n|\r|\n")


def _md(text: object, cut: int | None = None) -> str:
    """The one way untrusted text reaches the Markdown: a single line of literal text."""
    value = str(text)
    if cut is not None and len(value) > cut:
        value = value[:cut] + "…"
    value = _PUNCTUATION.sub(r"\\\1", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A line break inside a cell would end the row: the break is our own markup.
    return _NEWLINES.sub("<br>", value)


def _score(value: float | None) -> str:
    return _DASH if value is None else f"{value:.3f}"


def _interval(interval: tuple[float, float] | None) -> str:
    return _DASH if interval is None else f"{interval[0]:.3f}{_DASH}{interval[1]:.3f}"


def _gate(metric: MetricView) -> str:
    return " ".join(
        f"≥ {_score(g.bound)} {'held' if g.held else '**not held**'}"
        if g.bound is not None
        else f"{_md(g.gate)} {'held' if g.held else '**not held**'}"
        for g in metric.gates
    )


def _table(run: RunView) -> list[str]:
    head = ["suite", "metric", "passed/total", "score", "95% interval", "gate"]
    align = ["---", "---", "--:", "--:", "---", "---"]
    if run.has_comparison:
        head += ["baseline", "change", "flips", "p"]
        align += ["--:"] * 4
    lines = [f"| {' | '.join(head)} |", f"|{'|'.join(align)}|"]
    for m in run.metrics:
        cells = [
            _md(m.suite),
            _md(m.metric),
            f"{m.passed}/{m.total}",
            _score(m.score),
            _interval(m.interval),
            _gate(m),
        ]
        if run.has_comparison:
            c = m.comparison
            if c is None:
                cells += [_DASH] * 4
            else:
                change = _DASH if c.change is None else f"{c.change:+.3f}"
                p = _DASH if c.p_value is None else f"{c.p_value:.3f}"
                cells += [
                    _score(c.baseline_score),
                    f"**{change}** (regressed)" if c.regressed else change,
                    f"{_MINUS}{c.newly_failed} +{c.newly_passed}",
                    p,
                ]
        lines.append(f"| {' | '.join(cells)} |")
    return lines


def _cases(title: str, cases: list[CaseView]) -> list[str]:
    shown = cases[:CASES_LISTED]
    lines = [
        "",
        f"### {title} ({len(cases)})",
        "",
        "| metric | event | verdict | reason | reply |",
        "|---|---|---|---|---|",
    ]
    for case in shown:
        lines.append(
            f"| {_md(case.metric.name)} | {_md(case.event_id)} | {case.verdict} | "
            f"{_md(case.reason, _CUT)} | {_md(case.detail.get('output', ''), _CUT)} |"
        )
    if len(cases) > len(shown):
        lines += ["", f"… and {len(cases) - len(shown)} more: the results file lists every one."]
    return lines


def render_markdown(results: Mapping[str, Any]) -> str:
    """The summary of one run as GitHub-flavoured Markdown."""
    run = run_view(results)
    word = "passed" if run.verdict_passed else "**FAILED**"
    lines = [f"## trainloop: {word}, {_md(run.verdict)}", ""]
    facts = [
        f"overall score **{_score(run.overall_score)}** (95% interval {_interval(run.interval)})",
        f"{run.passed}/{run.total} cases passed",
        f"{run.failed} failed",
        f"{run.errors} errors",
    ]
    if run.complete is False:
        why = "; ".join(run.partial) or "reason not recorded"
        facts.append(f"**partial run**: {_md(why)}")
    if run.has_comparison:
        facts.append(f"baseline {_md(run.baseline_file or run.baseline_timestamp or '')}")
    lines += [" · ".join(facts), "", *_table(run)]
    if run.gates:
        lines += ["", "### Gates", ""]
        lines += [
            f"- {'✅' if g.held else '❌'} {_md(g.gate)} of {_md(g.target)}: score "
            f"{_score(g.score)}, bound {_score(g.bound)}, {'held' if g.held else '**not held**'}"
            for g in run.gates
        ]
    cases = failing_cases(run)
    if run.has_comparison:
        lines += _cases("Newly failed cases", [c for c in cases if c.newly_failed])
    elif cases:
        lines += _cases("Failing cases and errors", cases)
    return "\n".join(lines) + "\n"

"""The HTML report: one self-contained file, readable with JavaScript off.

Everything is rendered here, on the server side, into tables and `<details>` elements; a small
inline script only adds a filter over the failing cases and sortable columns. The page loads
nothing: no CDN, no font, no image file; its Content-Security-Policy allows only its own style
and its one script (by hash), so that even a mistake in escaping could not run a script.

Text from events, reasons, judges, suite and metric names and paths is untrusted: it reaches
the page through `report.escape.escape` alone (imported as `_e`; HTML-escaped, quotes too) and
only as element text. Every id, class and style attribute is made from numbers and fixed words,
never from that text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from pytest_trainloop.events import (
    Event,
    EventsNotFoundError,
    read_events,
)
from pytest_trainloop.report.assets import CSP, CSS, SCRIPT
from pytest_trainloop.report.breakdown import breakdown_section
from pytest_trainloop.report.cases import INLINE_CASES, cases_section
from pytest_trainloop.report.chart import chart
from pytest_trainloop.report.escape import escape as _e
from pytest_trainloop.report.history import HistoryPoint, gather_history, point_of
from pytest_trainloop.report.numbers import Scale, interval_text, p_text, score_text, signed_text
from pytest_trainloop.report.view import MetricView, RunView, failing_cases, run_view
from pytest_trainloop.stats import wilson_interval

__all__ = ["INLINE_CASES", "render_html", "write_html_report"]


# --- sections ----------------------------------------------------------------------------------


def _status(metric: MetricView) -> str:
    """A fixed class word for a row: a gate broken, cases failing, or all well."""
    if any(not g.held for g in metric.gates) or metric.errors:
        return "bad"
    if metric.failed:
        return "warn"
    return "ok"


def _header(run: RunView) -> str:
    verdict = "pass" if run.verdict_passed else "fail"
    word = "PASSED" if run.verdict_passed else "FAILED"
    completeness = ""
    if run.complete is False:
        completeness = '<span class="tag partial">partial run</span>'
    elif run.complete:
        completeness = '<span class="tag">complete run</span>'
    interval = (
        f' <span class="muted">95% CI {interval_text(run.interval)}</span>' if run.interval else ""
    )
    return (
        "<header>"
        f'<div class="title"><h1>trainloop report</h1>{completeness}</div>'
        f'<p class="muted">run of {_e(run.timestamp.replace("T", " ") or "unknown time")}'
        f" · data folder <code>{_e(run.data_folder or 'unknown')}</code></p>"
        f'<p class="verdict {verdict}"><strong>{word}</strong>: {_e(run.verdict)}</p>'
        '<div class="kpis">'
        f'<div><span class="big" id="overall-score">{score_text(run.overall_score)}</span>'
        f"<span>overall score{interval}</span></div>"
        f'<div><span class="big">{run.passed}/{run.total}</span><span>cases passed</span></div>'
        f'<div><span class="big">{run.failed}</span><span>failed</span></div>'
        f'<div><span class="big">{run.errors}</span><span>errors</span></div>'
        f'<div><span class="big">{len(run.suites)}/{len(run.metrics)}</span>'
        "<span>suites/metrics</span></div>"
        "</div></header>"
    )


def _nav(run: RunView, cases: int) -> str:
    links = [
        ("metrics", "Metrics"),
        ("run", "The run"),
        ("gates", "Gates"),
        ("suites", "Suites"),
        ("history", "Score over time"),
        ("breakdown", "By model, provider, tag"),
        ("cases", f"Failing cases ({cases})"),
    ]
    if run.bad_line_count:
        links.append(("bad-lines", f"Bad lines ({run.bad_line_count})"))
    items = (f'<a href="#{anchor}">{text}</a>' for anchor, text in links)
    return f"<nav>{' · '.join(items)}</nav>"


def _run_section(run: RunView) -> str:
    rows = [("when", _e(run.timestamp or "unknown"))]
    folder = f"<code>{_e(run.data_folder or 'unknown')}</code>"
    if run.data_folder_source:
        folder += f' <span class="muted">({_e(run.data_folder_source)})</span>'
    rows.append(("data folder", folder))
    if run.selection:
        rows.append(
            (
                "selection",
                ", ".join(
                    f"{_e(key)} = <code>{_e(orjson.dumps(value).decode())}</code>"
                    for key, value in run.selection
                ),
            )
        )
    else:
        rows.append(("selection", "every event of every suite"))
    if run.complete is None:
        rows.append(("complete", "not recorded (a results file of an earlier version)"))
    elif run.complete:
        rows.append(("complete", "yes: every case the suites selected was evaluated"))
    else:
        why = "; ".join(_e(p) for p in run.partial) or "reason not recorded"
        rows.append(("complete", f'<span class="bad-text">no, partial</span>: {why}'))
    if run.has_comparison:
        base = _e(run.baseline_file or "")
        when = f" ({_e(run.baseline_timestamp)})" if run.baseline_timestamp else ""
        alpha = f", alpha {run.alpha:g}" if run.alpha is not None else ""
        rows.append(("baseline", f"<code>{base}</code>{when}{alpha}"))
    rows.append(("failed calls left out", str(run.left_out_errors)))
    bad = str(run.bad_line_count)
    if run.bad_line_count:
        bad += ' (<a href="#bad-lines">listed below</a>)'
    rows.append(("bad event lines", bad))
    body = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<section id="run"><h2>The run</h2><table class="facts">{body}</table></section>'


def _gates_section(run: RunView) -> str:
    if not run.gates:
        return (
            '<section id="gates"><h2>Gates</h2><p class="muted">No gate: any failing case fails '
            "the run.</p></section>"
        )
    rows = "".join(
        f'<tr class="{"ok" if g.held else "bad"}"><td>{_e(g.gate)}</td><td>{_e(g.target)}</td>'
        f'<td class="num">{score_text(g.score)} &ge; {score_text(g.bound)}</td>'
        f"<td>{'held' if g.held else '<strong>not held</strong>'}</td></tr>"
        for g in run.gates
    )
    return (
        '<section id="gates"><h2>Gates</h2><table><thead><tr><th>gate</th><th>of</th>'
        '<th class="num">score &ge; bound</th><th>result</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


def _gate_cell(metric: MetricView) -> str:
    if not metric.gates:
        return ""
    return " ".join(
        f'<span class="{"ok" if g.held else "bad"}-text">'
        f"{'&ge; ' + score_text(g.bound) if g.bound is not None else _e(g.gate)} "
        f"{'held' if g.held else 'not held'}</span>"
        for g in metric.gates
    )


def _metrics_section(run: RunView, scale: Scale, first_case: Mapping[int, int]) -> str:
    compare = run.has_comparison
    head = (
        '<th>suite</th><th>metric</th><th class="num">passed/total</th>'
        '<th class="num">score</th><th>95% interval</th>'
        f'<th class="nosort" title="the bar spans {scale.low:g} to 1: the 95% interval, the '
        "score as a dark tick, a gate's bound as a red dashed line\">"
        f"{scale.low:g} … 1</th><th>gate</th>"
        '<th class="num">failing</th>'
    )
    if compare:
        head += (
            '<th class="num">baseline</th><th class="num">change</th>'
            '<th class="num">flips</th><th class="num">p</th>'
        )
    worst = min(
        (m for m in run.metrics if m.score is not None and m.score < 1),
        key=lambda m: m.score or 0.0,
        default=None,
    )
    rows = []
    for n, metric in enumerate(sorted(run.metrics, key=lambda m: (m.score is None, m.score))):
        failing = metric.failed + metric.errors
        link = str(failing)
        index = first_case.get(id(metric))
        if failing and index is not None:
            link = f'<a href="#case-{index}" class="jump">{failing} &darr;</a>'
        note = ' <span class="tag bad">worst</span>' if metric is worst else ""
        name = f"<strong>{_e(metric.metric)}</strong>" if metric is worst else _e(metric.metric)
        score = score_text(metric.score)
        cells = (
            f"<td>{_e(metric.suite)}</td>"
            f'<td><span class="mname" id="metric-{n}">{name}</span>{note}</td>'
            f'<td class="num" data-v="{metric.passed}">{metric.passed}/{metric.total}</td>'
            f'<td class="num score" data-v="{score}">{score}</td>'
            f'<td class="num muted">{interval_text(metric.interval)}</td>'
            f"<td>{scale.bar(metric.score, metric.interval, metric.min_score)}</td>"
            f"<td>{_gate_cell(metric)}</td>"
            f'<td class="num" data-v="{failing}">{link}</td>'
        )
        if compare:
            c = metric.comparison
            if c is None:
                cells += '<td class="num">&ndash;</td>' * 4
            else:
                change = "bad-text" if (c.change or 0) < 0 else ""
                regressed = ' <span class="tag bad">regressed</span>' if c.regressed else ""
                cells += (
                    f'<td class="num">{score_text(c.baseline_score)}</td>'
                    f'<td class="num {change}" data-v="{c.change or 0}">'
                    f"{signed_text(c.change)}</td>"
                    f'<td class="num">&minus;{c.newly_failed} +{c.newly_passed}</td>'
                    f'<td class="num">{p_text(c.p_value)}{regressed}</td>'
                )
        rows.append(f'<tr class="{_status(metric)}">{cells}</tr>')
    legend = (
        f'<p class="muted">The bars span {scale.low:g} to 1: the 95% interval of the pass rate '
        "in light blue, the score as a dark tick, a gate's bound as a red dashed line. Follow a "
        "failing count to the metric's cases.</p>"
    )
    return (
        '<section id="metrics"><h2>Metrics <span class="muted">worst first</span></h2>'
        f'<table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{legend}</section>"
    )


def _suites_section(run: RunView, scale: Scale) -> str:
    rows = []
    for suite in run.suites:
        interval = wilson_interval(suite.passed, suite.total)
        skipped = f' <span class="muted">({_e(suite.skipped)})</span>' if suite.skipped else ""
        change = ""
        if run.has_comparison:
            c = suite.comparison
            change = f'<td class="num">{signed_text(c.change) if c else "&ndash;"}</td>'
        rows.append(
            f"<tr><td>{_e(suite.name)}{skipped}</td>"
            f'<td class="num score" data-v="{score_text(suite.overall_score)}">'
            f"{score_text(suite.overall_score)}</td>"
            f'<td class="num">{suite.passed}/{suite.total}</td>'
            f"<td>{scale.bar(suite.passed / suite.total if suite.total else None, interval, None)}"
            f'</td><td class="num">{len(suite.metrics)}</td>'
            f"<td>{_e(', '.join(suite.tags))}</td>"
            f'<td class="num">{suite.left_out_errors}</td>{change}</tr>'
        )
    change_head = '<th class="num">change</th>' if run.has_comparison else ""
    return (
        '<section id="suites"><h2>Suites</h2><table class="sortable"><thead><tr>'
        '<th>suite</th><th class="num">score</th><th class="num">cases passed</th>'
        f'<th class="nosort">pass rate, {scale.low:g} … 1</th><th class="num">metrics</th>'
        f'<th>tags</th><th class="num">failed calls left out</th>{change_head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<p class=\"muted\">A suite's score is the mean of its metrics' scores.</p></section>"
    )


# --- the chart ---------------------------------------------------------------------------------


def _history_section(
    run: RunView, results: Mapping[str, Any], history: Sequence[HistoryPoint]
) -> str:
    points = list(history)
    current_point = point_of(dict(results))
    current: int | None = next(
        (i for i, p in enumerate(points) if p.timestamp == current_point.timestamp), None
    )
    if current is None:
        points.append(current_point)
        points.sort(key=lambda p: p.timestamp)
        current = points.index(current_point)
    baseline = next(
        (
            i
            for i, p in enumerate(points)
            if (run.baseline_file and p.file and run.baseline_file.endswith(p.file))
            or (run.baseline_timestamp and p.timestamp == run.baseline_timestamp)
        ),
        None,
    )
    partial = (
        " This run is partial: its point is of the cases it ran." if run.complete is False else ""
    )
    return (
        '<section id="history"><h2>Score over time</h2>'
        f'<p class="muted">The overall score and each suite\'s across {len(points)} runs '
        f"(earlier complete runs of the results folder, and this one).{partial}</p>"
        f"{chart(points, baseline, current)}</section>"
    )


def _bad_lines_section(run: RunView) -> str:
    if not run.bad_line_count:
        return ""
    items = "".join(f"<li><code>{_e(line)}</code></li>" for line in run.bad_lines)
    return (
        f'<section id="bad-lines"><h2>Bad event lines ({run.bad_line_count})</h2>'
        f"<ul>{items}</ul></section>"
    )


# --- the page ----------------------------------------------------------------------------------


def render_html(
    results: Mapping[str, Any],
    *,
    events: Mapping[str, Event] | None = None,
    history: Sequence[HistoryPoint] = (),
) -> str:
    """The report of one run as one self-contained HTML page.

    `results` is the results JSON as written; `events` maps event ids to the run's events (the
    conversations, replies, models and providers come from them; without them the page shows
    what the results kept); `history` holds earlier complete runs (`gather_history`).
    """
    run = run_view(results)
    cases = failing_cases(run)
    lows = [m.interval[0] for m in run.metrics if m.interval is not None]
    scale = Scale(lows)
    first_case: dict[int, int] = {}
    for n, case in enumerate(cases[:INLINE_CASES]):
        first_case.setdefault(id(case.metric), n)
    title = f"trainloop report {run.timestamp}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f"{_header(run)}{_nav(run, len(cases))}"
        f"{_metrics_section(run, scale, first_case)}"
        f'<div class="two">{_run_section(run)}{_gates_section(run)}</div>'
        f"{_suites_section(run, scale)}"
        f"{_history_section(run, results, history)}"
        f"{breakdown_section(run, events, scale)}"
        f"{cases_section(cases, events)}"
        f"{_bad_lines_section(run)}"
        f"</main><script>{SCRIPT}</script></body></html>\n"
    )


def write_html_report(results_path: str | os.PathLike[str], output: str | os.PathLike[str]) -> Path:
    """Render the report of a results file to `output`, atomically; returns the path written.

    The events come from the results' data folder and the history from the results file's own
    folder; a data folder that is gone leaves the page without conversations, not unwritten.
    A file that is missing or not a results file raises `ResultsFileError` naming it.
    """
    from pytest_trainloop.atomic import write_atomically
    from pytest_trainloop.compare import read_results

    path = Path(results_path)
    results = read_results(path)
    log = None
    folder = (results.get("configuration") or {}).get("data_folder")
    if isinstance(folder, str) and folder:
        try:
            log = read_events(folder)
        except EventsNotFoundError:
            log = None
    try:
        events = None if log is None else {event.id: event for event in log.events}
        history = gather_history(path.parent, exclude=path.name)
        page = render_html(results, events=events, history=history)
    finally:
        if log is not None:
            log.close()
    return write_atomically(Path(output), page.encode("utf-8"))

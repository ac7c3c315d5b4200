"""The HTML report: one self-contained file, readable with JavaScript off.

Everything is rendered here, on the server side, into tables and `<details>` elements; a small
inline script only adds a filter over the failing cases and sortable columns. The page loads
nothing: no CDN, no font, no image file; its Content-Security-Policy allows only its own style
and its one script (by hash), so that even a mistake in escaping could not run a script.

Text from events, reasons, judges, suite and metric names and paths is untrusted: it reaches
the page through `_e` alone (HTML-escaped, quotes too) and only as element text. Every id,
class and style attribute is made here from numbers and fixed words, never from that text.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from operator import methodcaller
from pathlib import Path
from typing import Any

import msgspec
import orjson

from pytest_trainloop.events import (
    Event,
    EventLineError,
    EventsNotFoundError,
    _provider_from_url,
    read_events,
)
from pytest_trainloop.report.history import HistoryPoint, gather_history, point_of
from pytest_trainloop.report.view import CaseView, MetricView, RunView, failing_cases, run_view
from pytest_trainloop.stats import wilson_interval

__all__ = ["INLINE_CASES", "render_html", "write_html_report"]

INLINE_CASES = 1000  # failing cases shown in full; the rest are counted
_REASON_IN_SUMMARY = 160  # characters of a reason on a case's one-line summary


def _e(text: object) -> str:
    """The one way untrusted text reaches the page: escaped for element text and attributes."""
    return html.escape(str(text), quote=True)


def _score(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.3f}"


def _interval(interval: tuple[float, float] | None) -> str:
    return "" if interval is None else f"{interval[0]:.3f}&ndash;{interval[1]:.3f}"


def _signed(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:+.3f}"


def _p(value: float | None) -> str:
    if value is None:
        return "&ndash;"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


# --- the interval bar --------------------------------------------------------------------------


class _Scale:
    """The range the page's interval bars share, so bars of different rows compare."""

    def __init__(self, lows: Iterable[float]) -> None:
        lowest = min(lows, default=0.0)
        self.low = max(0.0, min(0.9, math.floor(lowest * 10) / 10))

    def at(self, value: float) -> float:
        return max(0.0, min(100.0, (value - self.low) / (1 - self.low) * 100))

    def bar(
        self, score: float | None, interval: tuple[float, float] | None, bound: float | None
    ) -> str:
        if score is None or interval is None:
            return ""
        left, right = self.at(interval[0]), self.at(interval[1])
        parts = [
            f'<span class="ci" style="left:{left:.1f}%;width:{max(right - left, 0.5):.1f}%">'
            "</span>",
            f'<span class="pt" style="left:{self.at(score):.1f}%"></span>',
        ]
        if bound is not None:
            parts.append(f'<span class="bd" style="left:{self.at(bound):.1f}%"></span>')
        return f'<span class="bar" aria-hidden="true">{"".join(parts)}</span>'


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
        f' <span class="muted">95% CI {_interval(run.interval)}</span>' if run.interval else ""
    )
    return (
        "<header>"
        f'<div class="title"><h1>trainloop report</h1>{completeness}</div>'
        f'<p class="muted">run of {_e(run.timestamp.replace("T", " ") or "unknown time")}'
        f" · data folder <code>{_e(run.data_folder or 'unknown')}</code></p>"
        f'<p class="verdict {verdict}"><strong>{word}</strong>: {_e(run.verdict)}</p>'
        '<div class="kpis">'
        f'<div><span class="big" id="overall-score">{_score(run.overall_score)}</span>'
        f"<span>overall score{interval}</span></div>"
        f'<div><span class="big">{run.passed}/{run.total}</span><span>cases passed</span></div>'
        f'<div><span class="big">{run.failed}</span><span>failed</span></div>'
        f'<div><span class="big">{run.errors}</span><span>errors</span></div>'
        f'<div><span class="big">{len(run.suites)}/{len(run.metrics)}</span>'
        "<span>suites/metrics</span></div>"
        "</div></header>"
    )


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
        f'<td class="num">{_score(g.score)} &ge; {_score(g.bound)}</td>'
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
        f"{'&ge; ' + _score(g.bound) if g.bound is not None else _e(g.gate)} "
        f"{'held' if g.held else 'not held'}</span>"
        for g in metric.gates
    )


def _metrics_section(run: RunView, scale: _Scale, first_case: Mapping[int, int]) -> str:
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
            link = f'<a href="#case-{index}" class="jump" data-m="{n}">{failing} &darr;</a>'
        note = ' <span class="tag bad">worst</span>' if metric is worst else ""
        cells = (
            f"<td>{_e(metric.suite)}</td>"
            f'<td><span class="mname" id="metric-{n}">{_e(metric.metric)}</span>{note}</td>'
            f'<td class="num" data-v="{metric.passed}">{metric.passed}/{metric.total}</td>'
            f'<td class="num score" data-v="{_score(metric.score)}">{_score(metric.score)}</td>'
            f'<td class="num muted">{_interval(metric.interval)}</td>'
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
                    f'<td class="num">{_score(c.baseline_score)}</td>'
                    f'<td class="num {change}" data-v="{c.change or 0}">{_signed(c.change)}</td>'
                    f'<td class="num">&minus;{c.newly_failed} +{c.newly_passed}</td>'
                    f'<td class="num">{_p(c.p_value)}{regressed}</td>'
                )
        rows.append(f'<tr class="{_status(metric)}">{cells}</tr>')
    return (
        '<section id="metrics"><h2>Metrics <span class="muted">worst first</span></h2>'
        f'<table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _suites_section(run: RunView, scale: _Scale) -> str:
    rows = []
    for suite in run.suites:
        interval = wilson_interval(suite.passed, suite.total)
        skipped = f' <span class="muted">({_e(suite.skipped)})</span>' if suite.skipped else ""
        change = ""
        if run.has_comparison:
            c = suite.comparison
            change = f'<td class="num">{_signed(c.change) if c else "&ndash;"}</td>'
        rows.append(
            f"<tr><td>{_e(suite.name)}{skipped}</td>"
            f'<td class="num score" data-v="{_score(suite.overall_score)}">'
            f"{_score(suite.overall_score)}</td>"
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

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 960, 260, 48, 110, 16, 36


def _chart(points: Sequence[HistoryPoint], baseline: int | None, current: int | None) -> str:
    suites = sorted({name for p in points for name in p.suites})
    series: list[tuple[str, str, list[float | None]]] = [
        ("overall", "#111", [p.overall for p in points])
    ]
    series += [
        (name, _PALETTE[k % len(_PALETTE)], [p.suites.get(name) for p in points])
        for k, name in enumerate(suites)
    ]
    values = [v for _, _, ys in series for v in ys if v is not None]
    if len(points) < 2 or not values:
        return (
            '<p class="muted">The chart needs two runs or more: this folder holds no earlier '
            "complete run.</p>"
        )
    low = max(0.0, math.floor((min(values) - 0.02) * 10) / 10)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + plot_w * i / (len(points) - 1)

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - (v - low) / (1 - low))

    out = [
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" '
        'aria-label="score over time" xmlns="http://www.w3.org/2000/svg">'
    ]
    for k in range(round((1 - low) / 0.1) + 1):
        at = y(low + k * 0.1)
        out.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{at:.1f}" y2="{at:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{at + 4:.1f}" class="axis" text-anchor="end">'
            f"{low + k * 0.1:.1f}</text>"
        )
    for i, anchor in ((0, "start"), (len(points) - 1, "end")):
        when = points[i].timestamp[:16].replace("T", " ")
        out.append(
            f'<text x="{x(i):.1f}" y="{_H - 12}" class="axis" text-anchor="{anchor}">'
            f"{_e(when)}</text>"
        )
    for mark, word in ((baseline, "baseline"), (current, "this run")):
        if mark is not None:
            out.append(
                f'<line x1="{x(mark):.1f}" x2="{x(mark):.1f}" y1="{_TOP}" y2="{_H - _BOTTOM}" '
                f'class="mark"/><text x="{x(mark) + 4:.1f}" y="{_TOP + 10}" class="axis">'
                f"{word}</text>"
            )
    for n, (name, colour, ys) in enumerate(series):
        kind, radius = ("overall", 3.5) if n == 0 else ("suite", 2.5)
        path, pen, last = [], "M", None
        for i, v in enumerate(ys):
            if v is None:
                pen = "M"  # a run without this suite: the line breaks
                continue
            path.append(f"{pen}{x(i):.1f},{y(v):.1f}")
            pen, last = "L", v
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{radius}" fill="{colour}">'
                f"<title>{_e(name)} {v:.3f} at {_e(points[i].timestamp)}</title></circle>"
            )
        out.append(f'<path d="{" ".join(path)}" class="line {kind}" stroke="{colour}"/>')
        if last is not None:
            out.append(
                f'<text x="{_W - _RIGHT + 8}" y="{y(last) + 4:.1f}" class="legend" '
                f'fill="{colour}">{_e(name)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


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
        f"{_chart(points, baseline, current)}</section>"
    )


# --- breakdown by model, provider and tag ------------------------------------------------------


# An event's model and provider, decoded from its line with just these fields: the page needs
# them for every event, and building each line's whole dict (what `Event.model` does) cost
# 0.8 s of the 1.5 s a 100k-event report may take. `Event.model` and `Event.provider` remain the
# rule; tests/test_report_html.py holds this to them for both shapes.
class _Metadata(msgspec.Struct):
    model: str | None = None
    provider: str | None = None


class _Input(msgspec.Struct):
    model: str | None = None


class _Facts(msgspec.Struct):
    input: _Input | list[msgspec.Raw] | None = None  # a list: the flat SDK shape
    metadata: _Metadata | None = None
    model: str | None = None  # the flat shape's
    url: str | None = None  # the flat shape's, which names the provider


_FACTS = msgspec.json.Decoder(_Facts)


def _event_facts(event: Event) -> tuple[str, str]:
    """An event's model and provider ("unknown" when not recorded)."""
    try:
        facts = _FACTS.decode(event.line)
    except EventLineError:
        return "unreadable", "unreadable"
    except msgspec.DecodeError:  # a shape the plain struct does not take: ask the event
        return event.model or "unknown", event.provider or "unknown"
    if isinstance(facts.input, list):
        return facts.model or "unknown", _provider_from_url(facts.url) or "unknown"
    meta = facts.metadata
    model = (meta.model if meta else None) or (facts.input.model if facts.input else None)
    return model or "unknown", (meta.provider if meta else None) or "unknown"


def _add(into: list[int], more: list[int]) -> None:
    for i, value in enumerate(more):
        into[i] += value


def _breakdown_section(run: RunView, events: Mapping[str, Event] | None, scale: _Scale) -> str:
    head = '<section id="breakdown"><h2>By model, provider and tag</h2>'
    if events is None:
        return (
            f'{head}<p class="muted">The events were not available: the breakdown needs the '
            "events of the run's data folder.</p></section>"
        )
    suites = [s.name for s in run.suites]
    column = {name: 2 * k for k, name in enumerate(suites)}
    # Events are parsed for their model and provider in the mapping's order, which is reading
    # order when it comes from `read_events`: lines are then read from the file in sequence
    # (in the details' order, by event id, each read would fetch a block of its own).
    event_id_of, verdict_of = methodcaller("get", "event_id"), methodcaller("get", "verdict")
    wanted = {i for m in run.metrics for i in map(event_id_of, m.details)}
    kinds: dict[tuple[str, str, tuple[str, ...]], int] = {}  # (model, provider, tags) -> index
    kind_of: dict[str, int] = {}
    for event_id, event in events.items():
        if event_id in wanted:
            key = (*_event_facts(event), event.tags)
            kind_of[event_id] = kinds.setdefault(key, len(kinds))
    # Per kind of event, per suite: passed, total. There are few kinds, so every case is
    # counted in C (a Counter of (kind, verdict) pairs) and the tables are summed from kinds.
    counts = [[0] * (2 * len(suites)) for _ in kinds]
    for metric in run.metrics:
        at = column[metric.suite]
        pairs = zip(
            map(kind_of.get, map(event_id_of, metric.details)),
            map(verdict_of, metric.details),
            strict=True,
        )
        for (kind, verdict), n in Counter(pairs).items():
            if kind is not None:
                counts[kind][at + 1] += n
                if verdict == "passed":
                    counts[kind][at] += n
    tables: dict[str, dict[str, list[int]]] = {"model": {}, "provider": {}, "tag": {}}
    for (model, provider, tags), kind in kinds.items():
        for name, value in (("model", model), ("provider", provider)):
            _add(tables[name].setdefault(value, [0] * len(counts[kind])), counts[kind])
        for tag in tags or ("(no tag)",):
            _add(tables["tag"].setdefault(tag, [0] * len(counts[kind])), counts[kind])
    parts = [head]
    suite_heads = "".join(f'<th class="num">{_e(s)}</th>' for s in suites)
    for dimension, table in tables.items():
        rows = []
        for value, per in sorted(table.items()):
            passed, total = sum(per[0::2]), sum(per[1::2])
            score = passed / total if total else None
            per_suite = "".join(
                f'<td class="num" title="{per[2 * k]}/{per[2 * k + 1]}">'
                f"{_score(per[2 * k] / per[2 * k + 1]) if per[2 * k + 1] else ''}</td>"
                for k in range(len(suites))
            )
            interval = wilson_interval(passed, total)
            rows.append(
                f'<tr><td>{_e(value)}</td><td class="num">{passed}/{total}</td>'
                f'<td class="num score" data-v="{_score(score)}">{_score(score)}</td>'
                f'<td class="num muted">{_interval(interval)}</td>'
                f"<td>{scale.bar(score, interval, None)}</td>{per_suite}</tr>"
            )
        parts.append(
            f'<h3>By {dimension}</h3><table class="sortable"><thead><tr><th>{dimension}</th>'
            '<th class="num">cases passed</th><th class="num">score</th><th>95% interval</th>'
            f'<th class="nosort">{scale.low:g} … 1</th>{suite_heads}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    parts.append(
        '<p class="muted">Every case of every metric counts once; suite columns give the pass '
        "rate of that suite's cases.</p></section>"
    )
    return "".join(parts)


# --- failing cases -----------------------------------------------------------------------------

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def _content(content: object) -> str:
    """A message's content as text: strings as they are, parts and anything else as JSON."""
    if isinstance(content, str):
        return content
    return orjson.dumps(content, option=orjson.OPT_INDENT_2).decode()


def _conversation(event: Event) -> str:
    messages = []
    for message in event.messages:
        if not isinstance(message, dict):
            messages.append(f'<div class="msg other"><pre>{_e(_content(message))}</pre></div>')
            continue
        role = str(message.get("role", ""))
        kind = role if role in _ROLES else "other"  # a fixed word: the class never holds event text
        extra = {k: v for k, v in message.items() if k not in ("role", "content")}
        more = f'<pre class="json">{_e(_content(extra))}</pre>' if extra else ""
        messages.append(
            f'<div class="msg {kind}"><div class="role">{_e(role)}</div>'
            f"<pre>{_e(_content(message.get('content')))}</pre>{more}</div>"
        )
    return "".join(messages) or '<p class="muted">no messages recorded</p>'


def _reply(event: Event) -> str:
    output = event.output
    if output is None:
        return f'<p class="muted">no output: the call failed ({_e(event.error or "no error")})</p>'
    parts = [f'<pre class="reply">{_e(event.response)}</pre>']
    if output.get("tool_calls"):
        parts.append(f'<pre class="json">{_e(_content(output["tool_calls"]))}</pre>')
    return "".join(parts)


def _vote_word(value: object) -> str:
    if value is None:
        return "no answer"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _e(value)


def _votes(votes: object) -> str:
    """The judge's votes: [model, sample, claim answer, negation answer(, reasoning)] each."""
    if not isinstance(votes, list) or not votes:
        return ""
    rows: list[tuple[object, object, object, object, object]] = []
    for vote in votes:
        if isinstance(vote, dict):
            keys = ("model", "index", "claim_answer", "negation_answer", "reason")
            model, index, claim, negation, reason = (vote.get(k) for k in keys)
        elif isinstance(vote, list):
            fields: list[object] = [*vote[:5], *[None] * (5 - len(vote[:5]))]
            model, index, claim, negation, reason = fields
        else:
            continue
        rows.append((model, index, claim, negation, reason))
    with_reasons = any(row[4] for row in rows)  # else the case's reason holds the reasoning
    body = []
    for model, index, claim, negation, reason in rows:
        counted = claim is not None and negation is not None and claim != negation
        cells = [
            _e(model),
            _e(index),
            _vote_word(claim),
            _vote_word(negation),
            _vote_word(claim) if counted else "dropped",
        ]
        if with_reasons:
            cells.append(_e(reason or ""))
        body.append(f"<tr>{''.join(f'<td>{cell}</td>' for cell in cells)}</tr>")
    reasoning_head = "<th>reasoning</th>" if with_reasons else ""
    return (
        "<h4>Judge votes</h4><table><thead><tr><th>model</th><th>sample</th><th>claim</th>"
        f"<th>negation</th><th>vote</th>{reasoning_head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _case(n: int, case: CaseView, events: Mapping[str, Event] | None) -> str:
    detail = case.detail
    reason = case.reason
    first_line = reason.split("\n", 1)[0]
    if len(first_line) > _REASON_IN_SUMMARY:
        first_line = first_line[:_REASON_IN_SUMMARY] + "…"
    new = '<span class="tag bad">newly failed</span> ' if case.newly_failed else ""
    kind = '<span class="tag bad">error</span> ' if case.verdict == "error" else ""
    summary = (
        f'<summary>{new}{kind}<span class="cm">{_e(case.metric.name)}</span> '
        f'<code>{_e(case.event_id)}</code> <span class="why">{_e(first_line)}</span></summary>'
    )
    facts = [f"event <code>{_e(case.event_id)}</code>"]
    if "score" in detail:
        facts.append(f"score {_e(detail['score'])}")
    event = events.get(case.event_id) if events is not None else None
    body: list[str] = []
    if event is not None:
        try:
            facts.append(f"recorded at <code>{_e(event.source)}</code>")
            facts.append(f"model {_e(event.model or 'unknown')}")
            facts.append(f"provider {_e(event.provider or 'unknown')}")
            facts.append(f"tags {_e(', '.join(event.tags) or 'none')}")
            body.append(f"<h4>Conversation</h4>{_conversation(event)}")
            body.append(f"<h4>Reply</h4>{_reply(event)}")
        except EventLineError as exc:
            body = [f'<p class="bad-text">{_e(exc)}</p>']
    else:
        missing = "the events were not available" if events is None else "event not found"
        body.append(
            f'<p class="muted">{missing}: the start of the prompt and reply as the results '
            "kept them</p>"
            f"<h4>Prompt</h4><pre>{_e(detail.get('input', ''))}</pre>"
            f'<h4>Reply</h4><pre class="reply">{_e(detail.get("output", ""))}</pre>'
        )
    return (
        f'<details class="case" id="case-{n}">{summary}<div class="body">'
        f'<p class="facts">{" · ".join(facts)}</p>'
        f"<h4>Reason</h4><pre>{_e(reason or '(no reason given)')}</pre>"
        f"{''.join(body)}{_votes(detail.get('judge_votes'))}</div></details>"
    )


def _cases_section(cases: Sequence[CaseView], events: Mapping[str, Event] | None) -> str:
    shown = cases[:INLINE_CASES]
    rest = len(cases) - len(shown)
    more = (
        f'<p class="more">… and {rest} more failing cases and errors, not shown here: the '
        "results file lists every one.</p>"
        if rest
        else ""
    )
    if not cases:
        return '<section id="cases"><h2>Failing cases</h2><p>No case failed.</p></section>'
    return (
        f'<section id="cases"><h2>Failing cases and errors <span class="muted">{len(cases)}, '
        "newly failed first, then by metric, worst first</span></h2>"
        '<p class="filter" hidden><input id="filter" type="search" '
        'placeholder="Filter: metric, event id, reason, text of the conversation…" '
        'aria-label="filter failing cases"> <span id="filter-count"></span></p>'
        f'<div id="case-list">{"".join(_case(n, c, events) for n, c in enumerate(shown))}</div>'
        f"{more}</section>"
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

_CSS = """
:root{--fg:#1b1f24;--muted:#59636e;--line:#d8dee4;--bg:#fff;--soft:#f6f8fa;
--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--okbg:#dafbe1;--badbg:#ffebe9;--warnbg:#fff8c5}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
main{max-width:1240px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:22px;margin:0}h2{font-size:18px;margin:28px 0 8px}
h3{font-size:15px;margin:16px 0 6px}
h4{font-size:13px;margin:12px 0 4px;color:var(--muted);text-transform:uppercase;
letter-spacing:.04em}
.two{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:28px}
@media (max-width:900px){.two{grid-template-columns:1fr}}
.title{display:flex;gap:12px;align-items:center}
.verdict{margin:10px 0;padding:10px 14px;border-radius:6px;font-size:15px}
.verdict.pass{background:var(--okbg);color:#0a3b18}.verdict.fail{background:var(--badbg);color:#6e0b12}
.kpis{display:flex;flex-wrap:wrap;gap:28px;margin:12px 0 4px}
.kpis div{display:flex;flex-direction:column}.kpis span:last-child{color:var(--muted)}
.big{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums}
.muted{color:var(--muted);font-weight:normal;font-size:13px}
table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--soft);font-weight:600;white-space:nowrap;position:sticky;top:0}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.facts th{width:150px;background:none;font-weight:600}
tr.bad td:first-child{box-shadow:inset 4px 0 var(--bad)}
tr.warn td:first-child{box-shadow:inset 4px 0 #d4a72c}
tr.ok td:first-child{box-shadow:inset 4px 0 #4ac26b}
tr.bad .score{color:var(--bad);font-weight:600}
.ok-text{color:var(--ok)}.bad-text{color:var(--bad);font-weight:600}
.tag{display:inline-block;padding:0 7px;border-radius:10px;background:var(--soft);
border:1px solid var(--line);font-size:12px;font-weight:normal}
.tag.bad{background:var(--badbg);border-color:#ffcecb;color:var(--bad)}
.tag.partial{background:var(--warnbg);border-color:#eed888;color:var(--warn)}
.bar{position:relative;display:inline-block;width:160px;height:14px;background:var(--soft);
border:1px solid var(--line);border-radius:3px;vertical-align:middle}
.bar .ci{position:absolute;top:3px;height:6px;background:#9ecbff;border-radius:2px}
.bar .pt{position:absolute;top:0;width:2px;height:12px;margin-left:-1px;background:#0550ae}
.bar .bd{position:absolute;top:-2px;width:0;height:16px;border-left:2px dashed var(--bad)}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--soft);
padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
pre{font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--soft);
padding:8px 10px;border-radius:4px;margin:2px 0;white-space:pre-wrap;overflow-wrap:anywhere;
max-height:480px;overflow:auto}
details.case{border:1px solid var(--line);border-radius:6px;margin:4px 0;background:var(--bg)}
details.case>summary{cursor:pointer;padding:6px 10px;list-style-position:outside;margin-left:14px}
details.case[open]>summary{background:var(--soft);border-bottom:1px solid var(--line)}
.cm{font-weight:600}.why{color:var(--muted)}
.case .body{padding:4px 14px 12px}
.msg{margin:6px 0;border-left:3px solid var(--line);padding-left:8px}
.msg .role{font-size:12px;font-weight:600;color:var(--muted)}
.msg.user{border-color:#0969da}.msg.assistant{border-color:#8250df}.msg.system{border-color:#9a6700}
.msg.tool,.msg.function{border-color:#1a7f37}
pre.reply{border-left:3px solid #8250df}
.filter input{width:min(560px,100%);padding:6px 10px;font:inherit;border:1px solid var(--line);
border-radius:6px}
.more{font-weight:600}
a{color:#0969da}
svg.chart{width:100%;height:auto;max-width:960px;display:block}
svg .grid{stroke:#e5e9ee}svg .mark{stroke:#59636e;stroke-dasharray:4 3}
svg .axis{font-size:11px;fill:#59636e}svg .legend{font-size:12px;font-weight:600}
svg .line{fill:none;stroke-width:1.5}svg .line.overall{stroke-width:3}
th.sorted-asc::after{content:" ▲"}th.sorted-desc::after{content:" ▼"}
.sortable thead th:not(.nosort){cursor:pointer}
"""

# The script is fixed text: nothing of the run is in it. It reads the page as rendered.
_SCRIPT = """
(function(){
var box=document.getElementById("filter");
if(box){
  box.parentNode.hidden=false;
  var cases=Array.prototype.slice.call(document.querySelectorAll("#case-list>details.case"));
  var texts=null,count=document.getElementById("filter-count");
  var run=function(){
    if(texts===null){texts=cases.map(function(c){return c.textContent.toLowerCase();});}
    var q=box.value.trim().toLowerCase(),shown=0;
    for(var i=0;i<cases.length;i++){var hit=!q||texts[i].indexOf(q)>=0;cases[i].hidden=!hit;
      if(hit){shown++;}}
    count.textContent=q?shown+" of "+cases.length+" shown":"";
  };
  box.addEventListener("input",run);
  document.querySelectorAll("a.jump").forEach(function(a){
    a.addEventListener("click",function(){
      var row=a.closest("tr");
      box.value=row.cells[0].textContent+"/"+row.querySelector(".mname").textContent;run();
    });
  });
}
document.querySelectorAll("table.sortable").forEach(function(table){
  var heads=table.querySelectorAll("thead th");
  heads.forEach(function(th,col){
    if(th.classList.contains("nosort")){return;}
    th.addEventListener("click",function(){
      var asc=!th.classList.contains("sorted-asc");
      heads.forEach(function(h){h.classList.remove("sorted-asc","sorted-desc");});
      th.classList.add(asc?"sorted-asc":"sorted-desc");
      var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      var key=function(r){var c=r.cells[col];if(!c){return "";}
        var v=c.getAttribute("data-v");var n=parseFloat(v===null?c.textContent:v);
        return isNaN(n)?c.textContent.toLowerCase():n;};
      rows.sort(function(a,b){var x=key(a),y=key(b);
        var d=(typeof x===typeof y)?(x<y?-1:x>y?1:0):(typeof x==="number"?-1:1);
        return asc?d:-d;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
})();
"""

_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
# Nothing may load or run but the page's own style and its one script.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{_SCRIPT_HASH}'; base-uri 'none'; form-action 'none'"
)


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
    scale = _Scale(lows)
    first_case: dict[int, int] = {}
    for n, case in enumerate(cases[:INLINE_CASES]):
        first_case.setdefault(id(case.metric), n)
    title = f"trainloop report {run.timestamp}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f"{_header(run)}"
        f"{_metrics_section(run, scale, first_case)}"
        f'<div class="two">{_run_section(run)}{_gates_section(run)}</div>'
        f"{_suites_section(run, scale)}"
        f"{_history_section(run, results, history)}"
        f"{_breakdown_section(run, events, scale)}"
        f"{_cases_section(cases, events)}"
        f"{_bad_lines_section(run)}"
        f"</main><script>{_SCRIPT}</script></body></html>\n"
    )


def write_html_report(results_path: str | os.PathLike[str], output: str | os.PathLike[str]) -> Path:
    """Render the report of a results file to `output`, atomically; returns the path written.

    The events come from the results' data folder and the history from the results file's own
    folder; a data folder that is gone leaves the page without conversations, not unwritten.
    """
    from pytest_trainloop.results import write_atomically

    path = Path(results_path)
    results = orjson.loads(path.read_bytes())
    if not isinstance(results, dict):
        raise ValueError(f"{path} is not a results file: expected a JSON object")
    events: dict[str, Event] | None = None
    folder = (results.get("configuration") or {}).get("data_folder")
    if isinstance(folder, str) and folder:
        try:
            events = {event.id: event for event in read_events(folder).events}
        except EventsNotFoundError:
            events = None
    history = gather_history(path.parent, exclude=path.name)
    page = render_html(results, events=events, history=history)
    return write_atomically(Path(output), page.encode("utf-8"))

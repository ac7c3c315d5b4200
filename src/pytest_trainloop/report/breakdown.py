"""Scores by the events' model, provider and tag: what the results alone cannot say."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from operator import methodcaller

import msgspec

from pytest_trainloop.event import provider_from_url
from pytest_trainloop.events import Event, EventLineError
from pytest_trainloop.report.escape import escape as _e
from pytest_trainloop.report.numbers import Scale, interval_text, score_text
from pytest_trainloop.report.view import RunView
from pytest_trainloop.stats import wilson_interval

__all__ = ["breakdown_section"]


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
        return facts.model or "unknown", provider_from_url(facts.url) or "unknown"
    meta = facts.metadata
    model = (meta.model if meta else None) or (facts.input.model if facts.input else None)
    return model or "unknown", (meta.provider if meta else None) or "unknown"


def _add(into: list[int], more: list[int]) -> None:
    for i, value in enumerate(more):
        into[i] += value


def breakdown_section(run: RunView, events: Mapping[str, Event] | None, scale: Scale) -> str:
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
                f"{score_text(per[2 * k] / per[2 * k + 1]) if per[2 * k + 1] else ''}</td>"
                for k in range(len(suites))
            )
            interval = wilson_interval(passed, total)
            rows.append(
                f'<tr><td>{_e(value)}</td><td class="num">{passed}/{total}</td>'
                f'<td class="num score" data-v="{score_text(score)}">{score_text(score)}</td>'
                f'<td class="num muted">{interval_text(interval)}</td>'
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

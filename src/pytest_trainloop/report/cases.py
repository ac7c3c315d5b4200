"""Failing cases and errors, each in a `<details>` element: the whole conversation and reply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from pytest_trainloop.events import Event, EventLineError
from pytest_trainloop.report.escape import escape as _e
from pytest_trainloop.report.view import CaseView

__all__ = ["INLINE_CASES", "cases_section"]

INLINE_CASES = 1000  # failing cases shown in full; the rest are counted
_REASON_IN_SUMMARY = 160  # characters of a reason on a case's one-line summary


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


def cases_section(cases: Sequence[CaseView], events: Mapping[str, Event] | None) -> str:
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

"""The sending half of the report channel: what a test came to, onto its pytest report.

Runs in the process that ran the test (an xdist worker, or a plain run). Each report gets the
test's records (records.py), and its pytest outcome is set from the metric's verdicts by one
rule (`_set_outcome`), for a one-event case and a batch test alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from pytest_trainloop.baseline import MetricBaseline
from pytest_trainloop.batch import Batch, batch_rows
from pytest_trainloop.evaluation import (
    OUTCOME_KEY,
    VOTES_KEY,
    exception_reason,
    judge_usage,
    snippets_of,
)
from pytest_trainloop.events import Event, EventLineError
from pytest_trainloop.outcomes import Outcome
from pytest_trainloop.records import BatchOutcome, CaseVerdict
from pytest_trainloop.redact import redact
from pytest_trainloop.suites import MetricSpec
from pytest_trainloop.tolerance import fails, tolerating_gate

_SHOWN = 20  # a batch test's failing events listed in its report
_CUT = 500  # characters of the prompt and the reply a failed case shows with -v (-vv: all)
# C0 and C1 control characters but tab and newline: an escape sequence in a recorded reply
# must not drive the terminal (colours, cursor moves, a title, a "clear screen").
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Event text as the terminal may show it: control characters as `\\x1b` escapes, and the
    secrets this process knows masked."""
    return redact(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


def _shown(label: str, text: str, cut: int | None) -> list[str]:
    if cut is not None and len(text) > cut:
        text = f"{text[:cut]}… ({len(text)} characters; -vv shows them all)"
    body = printable(text).splitlines() or [""]
    return [f"{label}:", *(f"    {line}" for line in body)]


def case_details(item: pytest.Item, event: Event) -> str:
    """A failed case's event under its reason, with -v and above, as pytest shows a test's
    locals with -l: where it was recorded, the last user message, the reply (cut with -v,
    whole with -vv). Empty without -v: the default report stays one line."""
    verbosity = item.config.get_verbosity()
    if verbosity < 1:
        return ""
    cut = _CUT if verbosity == 1 else None
    lines = ["", "", f"event: {printable(str(event.source))}"]  # a blank line under the reason
    try:
        lines += _shown("last user message", event.prompt, cut)
        lines += _shown("reply", event.response, cut)
    except (EventLineError, KeyError, TypeError, AttributeError) as exc:
        lines.append(f"(the event could not be read again: {printable(str(exc))})")
    finally:
        event.release()  # read again for this report only: the run keeps no parsed line
    return "\n".join(lines)


def _set_outcome(
    report: pytest.TestReport,
    gate: str | None,
    failed: int,
    errors: int,
    failure: Callable[[], str],
    tolerated: str,
) -> None:
    """A trainloop test's pytest outcome, from its verdicts, by the rule the merge of a sharded
    run asks too (tolerance.py): an error fails it; so does a failed verdict, unless a gate
    tolerates it: then it is xfailed, which keeps it visible, not a pass, and out of the exit
    code (the gate alone decides that)."""
    if fails(failed, errors, gate):
        report.outcome = "failed"
        report.longrepr = failure()
    elif failed:
        report.outcome = "skipped"
        report.wasxfail = f"tolerated by {gate}: {tolerated}"
        report.longrepr = None


def case_into_report(
    item: pytest.Item,
    call: pytest.CallInfo[None],
    report: pytest.TestReport,
    spec: MetricSpec,
    event: Event,
    fail_under: float | None,
    baseline: MetricBaseline | None = None,
    shard: tuple[int, int] | None = None,
) -> CaseVerdict:
    """Give a one-event case's call report its outcome; the outcome as a record. `baseline`:
    the metric's cases in the baseline, when the run has one and it has this metric."""
    outcome = item.stash.get(OUTCOME_KEY, None)
    if outcome is None:  # the metric raised: pytest's report keeps the traceback
        excinfo = call.excinfo
        reason = exception_reason(excinfo.value) if excinfo else "error"
        outcome = Outcome("error", reason)
    prompt, response = snippets_of(event)
    event.release()  # the case is done with it: a run holds no parsed line per case
    kind, reason = outcome.kind, outcome.reason
    if kind != "passed":
        label = f"{spec.suite}/{spec.metric}[{event.id}]"
        failure = (
            f"{label} error: {reason}"
            if kind == "error"
            else f"{label} failed: {reason or 'the metric said no'}"
        )
        _set_outcome(
            report,
            tolerating_gate(spec.min_score, fail_under, shard, baseline, (event.id,)),
            kind == "failed",
            kind == "error" and report.passed,  # else pytest's report of the raise stands
            lambda: printable(failure) + case_details(item, event),
            reason or "failed",
        )
    return CaseVerdict(
        kind,
        reason,
        outcome.score,
        prompt,
        response,
        judge_usage(item),
        item.stash.get(VOTES_KEY, None),
        None if baseline is None else baseline.verdict(event.id),
    )


def batch_into_report(
    item: pytest.Item,
    report: pytest.TestReport,
    batch: Batch,
    spec: MetricSpec,
    fail_under: float | None,
    baseline: MetricBaseline | None = None,
    shard: tuple[int, int] | None = None,
) -> BatchOutcome:
    """A batch test's outcomes as a record (see `BatchOutcome`); and one pytest outcome for the
    chunk. (No per-case JUnit entry in batch mode: `baseline` only tolerates.)"""
    rows, passed, first_error = batch_rows(item, report, batch)
    outcome = BatchOutcome(rows, passed, judge_usage(item))
    if report.failed:  # the chunk itself broke (a fixture, the loop): pytest's report stands
        return outcome
    failed = [r for r in rows if r[1] == "failed"]
    errors = [r for r in rows if r[1] == "error"]

    def failure() -> str:
        shown = [f"  [{r[0]}] {r[1]}: {r[2]}" for r in (errors + failed)[:_SHOWN]]
        more = len(errors) + len(failed) - len(shown)
        lines = [
            f"{spec.suite}/{spec.metric}: {len(failed)} failed and {len(errors)} errors of "
            f"{outcome.events} events",
            *shown,
            *([f"  ... and {more} more"] if more > 0 else []),
        ]
        if first_error is not None:  # its traceback, cut to the metric's frames as per case
            event_id, exc = first_error
            trace = item.repr_failure(pytest.ExceptionInfo.from_exception(exc))
            lines += ["", f"the first exception, raised on event {event_id}:", redact(str(trace))]
        return "\n".join(lines)

    _set_outcome(
        report,
        tolerating_gate(spec.min_score, fail_under, shard, baseline, (r[0] for r in failed)),
        len(failed),
        len(errors),
        failure,
        f"{len(failed)} of {outcome.events} events failed",
    )
    return outcome

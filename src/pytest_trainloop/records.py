"""The report channel: what a test's report carries from the process that ran it to the one that
aggregates it, as typed records. The one module that knows the `trainloop_*` keys.

A record travels as `report.user_properties` entries named `trainloop_<field>`, with JSON-safe
values only: pytest-xdist serializes them, and JUnit XML shows a case's as its properties. A
field that is None is not sent, so that JUnit does not show the string 'None'.

    collection  Identity      on the item: every report of the test carries it (JUnit shows it)
    call        CaseVerdict   a one-event case's outcome, also on the item (JUnit shows it)
    call        BatchOutcome  a batch test's outcomes: its plain passes' ids, a row per other event
                              (at setup if its fixture broke)
    setup       BatchEvents   a batch test's event ids, from a worker: a crash is attributed
    first       Announcement  per-process facts, on a process's first report (of each suite)

Values read back are checked for type here, once: the aggregating process trusts nothing that a
report carried but the rows of a batch, which only our own code writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from pytest_trainloop.summary import JudgeUsage

PREFIX = "trainloop_"
# A worker's `workeroutput` key: the usage error that made it run nothing (see run.py).
USAGE_ERROR = PREFIX + "usage_error"

Properties = list[tuple[str, object]]
Values = dict[str, object]  # a report's `trainloop_*` entries, without the prefix

# One event's outcome in a batch test: (event id, kind, reason, score, input, output, judge
# votes), in `summary.MetricTally.count`'s order. Tuples, not records: the garbage collector
# stops tracking a tuple of strings and numbers, and Python's exit collected 200k list rows
# several times over (0.5 s at 100k events); and rows reach the controller as JSON arrays.
Row = tuple[str, str, str, float | None, str, str, list[Any] | None]


def row(
    event_id: str,
    kind: str,
    reason: str,
    score: float | None,
    input: str,
    output: str,
    judge_votes: list[Any] | None,
) -> Row:
    """The one place that orders a row's fields."""
    return (event_id, kind, reason, score, input, output, judge_votes)


def _properties(values: Sequence[tuple[str, object]]) -> Properties:
    return [(PREFIX + key, value) for key, value in values if value is not None]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _bound(value: object) -> float | None:
    return value if isinstance(value, float) else None


@dataclass(frozen=True, slots=True)
class Identity:
    """Which metric a test evaluates, on what: set on the item at collection."""

    suite: str
    metric: str
    threshold: float | None = None  # None: the one skipped test of a metric with no case
    min_score: float | None = None
    event: str | None = None  # a one-event case's event id
    batch_size: int | None = None  # a batch test's number of events
    empty: str | None = None  # a metric with nothing to evaluate: why
    empty_fails: bool = False  # ... and that fails the run
    max_drop: float | None = None  # the marker's bound on the paired score's fall

    def to_properties(self) -> Properties:
        return _properties(
            [
                ("suite", self.suite),
                ("metric", self.metric),
                ("empty", self.empty),
                ("empty_fails", True if self.empty_fails else None),
                ("threshold", self.threshold),
                ("min_score", self.min_score),
                ("max_drop", self.max_drop),
                ("batch_size", self.batch_size),
                ("event", self.event),
            ]
        )

    @classmethod
    def from_properties(cls, values: Values) -> Identity:
        empty = values.get("empty")
        return cls(
            str(values.get("suite", "")),
            str(values.get("metric", "")),
            _bound(values.get("threshold")),
            _bound(values.get("min_score")),
            _text(values.get("event")),
            _int(values.get("batch_size")) or None,
            None if empty is None else str(empty),
            bool(values.get("empty_fails")),
            _bound(values.get("max_drop")),
        )


@dataclass(frozen=True, slots=True)
class CaseVerdict:
    """What a one-event case came to, with the start of its event's prompt and response."""

    kind: str  # "passed" | "failed" | "error"
    reason: str
    score: float | None
    input: str
    output: str
    judge_usage: JudgeUsage | None = None
    judge_votes: list[Any] | None = None
    # With --trainloop-baseline, for JUnit: the baseline's verdict of the same event ("absent":
    # none). Not read back: the aggregating process pairs cases from the baseline's file.
    baseline_verdict: str | None = None

    def to_properties(self) -> Properties:
        return _properties(
            [
                ("verdict", self.kind),
                ("reason", self.reason),
                ("score", self.score),
                ("input", self.input),
                ("output", self.output),
                ("judge_usage", self.judge_usage or None),
                ("judge_votes", self.judge_votes),
                ("baseline_verdict", self.baseline_verdict),
            ]
        )

    @classmethod
    def from_properties(cls, values: Values) -> CaseVerdict:
        score, usage, votes = (values.get(k) for k in ("score", "judge_usage", "judge_votes"))
        return cls(
            str(values["verdict"]),
            _text(values.get("reason")),
            score if isinstance(score, float) else None,
            _text(values.get("input")),
            _text(values.get("output")),
            usage if isinstance(usage, dict) else None,
            votes if isinstance(votes, list) else None,
        )


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """A batch test's outcomes: the ids of the events that plainly passed (a True or None: no
    reason, score or votes; most events of a large run, sent without a row each), one row per
    other event, and its judge usage."""

    rows: list[Row]
    passed: list[str] = field(default_factory=list)
    judge_usage: JudgeUsage | None = None

    @property
    def events(self) -> int:
        return len(self.rows) + len(self.passed)

    def to_properties(self, as_text: bool) -> Properties:
        """With `as_text` (on a worker), the rows as one JSON string and the plain passes' ids
        as one line: execnet's pure-Python serializer took 1.3 s to send 200k rows, and the
        controller 1 s to read them."""
        rows: object = orjson.dumps(self.rows).decode() if as_text else self.rows
        passed: object = " ".join(self.passed) if as_text else self.passed  # ids hold no space
        return _properties(
            [
                ("batch_results", rows),
                ("batch_passed", passed if self.passed else None),
                ("judge_usage", self.judge_usage or None),
            ]
        )

    @classmethod
    def from_properties(cls, values: Values) -> BatchOutcome | None:
        rows = values.get("batch_results")
        if isinstance(rows, str):  # from a worker
            rows = orjson.loads(rows)
        if not isinstance(rows, list):
            return None
        passed = values.get("batch_passed", [])
        if isinstance(passed, str):  # from a worker; an empty list is not sent, "" guarded
            passed = passed.split(" ") if passed else []
        usage = values.get("judge_usage")
        return cls(
            rows,
            passed if isinstance(passed, list) else [],
            usage if isinstance(usage, dict) else None,
        )


def without_batch_rows(properties: Properties) -> Properties:
    """A report's properties without its batch rows: once folded, they are dropped from the
    report, which pytest keeps to the end of the session (a million events' rows: 200+ MB)."""
    names = (PREFIX + "batch_results", PREFIX + "batch_passed")
    return [entry for entry in properties if entry[0] not in names]


@dataclass(frozen=True, slots=True)
class BatchEvents:
    """A batch test's event ids, sent by a worker at setup: should it die in the chunk, the
    aggregating process still knows which events to count as errors."""

    ids: tuple[str, ...]

    def to_properties(self) -> Properties:
        return _properties([("batch_events", " ".join(self.ids))])  # ids hold no space

    @classmethod
    def from_properties(cls, values: Values) -> BatchEvents | None:
        ids = _text(values.get("batch_events"))
        return cls(tuple(ids.split(" "))) if ids else None


@dataclass(frozen=True, slots=True)
class SuiteFacts:
    tags: list[str]
    left_out_errors: int  # failed calls its metrics left out, each counted once


@dataclass(frozen=True, slots=True)
class RunFacts:
    bad_lines: list[str]
    left_out_errors: int  # failed calls left out over all suites, each counted once
    # cases the suites selected, and those left after pytest's narrowing (None: not counted)
    cases: tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class Announcement:
    """Run-wide facts, sent once per process (`run`) and once per process and suite (`suite`).

    Every process collects the same cases, so any one of them can tell.
    """

    run: RunFacts | None = None
    suite: SuiteFacts | None = None

    def to_properties(self) -> Properties:
        values: list[tuple[str, object]] = []
        if self.run is not None:
            cases = self.run.cases
            values += [
                ("bad_lines", self.run.bad_lines),
                ("left_out_errors", self.run.left_out_errors),
                ("cases", None if cases is None else {"selected": cases[0], "collected": cases[1]}),
            ]
        if self.suite is not None:
            info = {"tags": self.suite.tags, "left_out_errors": self.suite.left_out_errors}
            values.append(("suite_info", info))
        return _properties(values)

    @classmethod
    def from_properties(cls, values: Values) -> Announcement | None:
        run = suite = None
        bad = values.get("bad_lines")
        if isinstance(bad, list):
            counts = values.get("cases")
            cases = None
            if isinstance(counts, dict):
                cases = (_int(counts.get("selected")), _int(counts.get("collected")))
            run = RunFacts([str(line) for line in bad], _int(values.get("left_out_errors")), cases)
        info = values.get("suite_info")
        if isinstance(info, dict):
            suite = SuiteFacts(list(info.get("tags", [])), _int(info.get("left_out_errors")))
        return None if run is None and suite is None else cls(run, suite)


@dataclass(frozen=True, slots=True)
class Received:
    """Everything one report carried on the channel."""

    identity: Identity
    verdict: CaseVerdict | None
    batch: BatchOutcome | None
    batch_events: BatchEvents | None
    announcement: Announcement | None


def receive(properties: Sequence[tuple[str, object]]) -> Received | None:
    """What a report's properties carry (None for a test that is not a trainloop case)."""
    size = len(PREFIX)
    values = {
        name[size:]: value
        for name, value in properties
        if isinstance(name, str) and name.startswith(PREFIX)
    }
    if not values:
        return None
    return Received(
        Identity.from_properties(values),
        CaseVerdict.from_properties(values) if "verdict" in values else None,
        BatchOutcome.from_properties(values) if "batch_results" in values else None,
        BatchEvents.from_properties(values) if "batch_events" in values else None,
        Announcement.from_properties(values)
        if "bad_lines" in values or "suite_info" in values
        else None,
    )

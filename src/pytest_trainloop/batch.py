"""Batch mode: one test per chunk of a selection's events, each event's outcome kept as its
case's would be, so that the results JSON, gates and exit code are those of one test per event.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_trainloop.evaluation import (
    STOPS_THE_RUN,
    call_metric,
    judged,
    raised,
    returned,
    snippets_of,
)
from pytest_trainloop.event import release_all
from pytest_trainloop.events import Event
from pytest_trainloop.marker import EVENT_ARG
from pytest_trainloop.outcomes import Outcome, broken_reason
from pytest_trainloop.records import Row, row
from pytest_trainloop.suites import Chosen

# A chunk's outcomes: a row per event, but the plain passes, kept as their event ids alone.
BATCH_RESULTS_KEY = pytest.StashKey[tuple[list[Row], list[str]]]()
_CHUNK_KEY = pytest.StashKey[list[Any]]()  # what an async metric came to on each event of a chunk
_FIRST_ERROR_KEY = pytest.StashKey[tuple[str, BaseException]]()  # a chunk's first error, by event


@dataclass(eq=False)
class Batch:
    """The `event` parameter of a batch-mode test: one chunk of a selection's events.

    Every metric with the same selection gets the same chunks, and their tests run one after
    another (see `by_chunk`), so that each event's line is parsed once for all of them: the
    parsed lines are kept while the chunk's tests run and released when the next chunk starts
    (`release`).
    """

    events: tuple[Event, ...]
    selection: Chosen  # the events it is a chunk of
    position: int  # its place among them
    paused_gc: bool = False  # whether `hold` paused the garbage collector

    def hold(self, concurrent: bool) -> None:
        """The chunk's tests begin: the collector is paused until `release` (unless its metric
        is async: a judge's calls leave much for it), as the reader pauses it. The chunk's
        parsed lines, alive for its next metrics, were otherwise traversed by collection after
        collection (0.1-0.3 s of a 100k-event run); what its tests leave waits one chunk."""
        if not concurrent and gc.isenabled():
            gc.disable()
            self.paused_gc = True

    def release(self) -> None:
        """Forget the chunk's parsed lines, and resume the collector: its tests are done."""
        release_all(self.events)
        if self.paused_gc:
            self.paused_gc = False
            gc.enable()


def by_chunk(
    items: list[pytest.Item], batch_of: Callable[[pytest.Item], Batch | None]
) -> list[pytest.Item]:
    """Batch tests (those `batch_of` gives a chunk) reordered so that the tests of one chunk
    run one after another.

    A selection's tests stay where its first one was; within it, chunk by chunk, each chunk's
    metrics in their collected order. Other tests keep their places.
    """
    anchors: dict[int, int] = {}  # id() of a selection -> where its first test was

    def place(numbered: tuple[int, pytest.Item]) -> tuple[int, int, int]:
        n, item = numbered
        batch = batch_of(item)
        if batch is None:
            return (n, 0, n)
        first = anchors.setdefault(id(batch.selection), n)
        return (first, batch.position, n)

    return [item for _, item in sorted(enumerate(items), key=place)]


# What a metric came to on one event of a chunk: (event, outcome or None if it skipped, votes).
_Evaluated = tuple[Event, Outcome | None, list[list[object]] | None]


def run_batch(
    item: pytest.Function,
    batch: Batch,
    threshold: float,
    concurrent: bool,
    funcargs: dict[str, Any],
) -> None:
    """The metric on every event of the chunk, each outcome kept as a case would keep it.

    A sync metric's events are evaluated one by one, an async metric's several at a time. A
    sync metric leaves each event's line parsed for the chunk's next metrics (the chunk's lines
    are parsed once, and released by the caller when the next chunk starts); an async metric
    releases each event as it is done, having at most `limit` in flight. Only failures and
    errors cut their event's prompt and response for the results: a passed case keeps its id,
    verdict and score.
    """
    rows: list[Row] = []
    passed: list[str] = []
    if concurrent:
        call_metric(item, funcargs)  # `evaluate_concurrently`'s coroutine: the whole chunk
        chunk: list[_Evaluated] = item.stash[_CHUNK_KEY]
        del item.stash[_CHUNK_KEY]
        for event, outcome, votes in chunk:
            if outcome is not None:
                rows.append(_row(event, outcome, votes))
    else:
        _one_by_one(item, batch, threshold, funcargs, rows, passed)
    item.stash[BATCH_RESULTS_KEY] = (rows, passed)


def _row(event: Event, outcome: Outcome, votes: list[list[object]] | None) -> Row:
    if outcome.kind == "passed":
        return row(event.id, "passed", outcome.reason, outcome.score, "", "", votes)
    prompt, response = snippets_of(event)
    return row(event.id, outcome.kind, outcome.reason, outcome.score, prompt, response, votes)


def _one_by_one(
    item: pytest.Function,
    batch: Batch,
    threshold: float,
    funcargs: dict[str, Any],
    rows: list[Row],
    passed: list[str],
) -> None:
    """A sync metric on the chunk's events, one after another, each outcome's row appended.

    The loop runs once per event and case (100k times in a large run): a plain `True` or `None`
    goes straight to `passed`, as its event id.
    """
    function = item.obj
    append, plain_pass = rows.append, passed.append
    # Most metrics take the event alone: a keyword call then builds no dict (0.07 µs a call).
    event_alone = funcargs.keys() == {EVENT_ARG}
    for event in batch.events:
        funcargs[EVENT_ARG] = event
        try:
            value = function(event=event) if event_alone else function(**funcargs)
            if type(value) is not bool:
                value = returned(item, value)
        except STOPS_THE_RUN:
            raise
        except BaseException as exc:  # this event's outcome; the others still run
            _, outcome, _ = _raised_on(item, event, exc)
            if outcome is not None:
                append(_row(event, outcome, None))
            continue
        if value is True or value is None:
            plain_pass(event.id)
        else:
            outcome, votes = judged(item, value, threshold)
            append(_row(event, outcome, votes))


def _raised_on(item: pytest.Function, event: Event, exc: BaseException) -> _Evaluated:
    """What a metric that raised `exc` on `event` came to; the chunk's first error is kept, so
    that its report can show where it was raised."""
    outcome = raised(exc)
    if outcome is not None and outcome.kind == "error" and _FIRST_ERROR_KEY not in item.stash:
        item.stash[_FIRST_ERROR_KEY] = (event.id, exc)
    return event, outcome, None


def evaluate_concurrently(
    item: pytest.Function, function: Any, batch: Batch, threshold: float, limit: int
) -> Any:
    """An async metric in batch mode: one coroutine that evaluates every event of the chunk,
    `limit` at a time, and leaves what each came to in the item's stash.

    Run by whatever runs the test's coroutine (pytest-asyncio, in its event loop, or ours), so
    async fixtures and the metric share one loop. A judge metric then has many verdicts in
    flight, where one by one each waits for the last.
    """

    @functools.wraps(function)
    async def evaluate_chunk(**funcargs: Any) -> None:
        import asyncio

        evaluated: list[_Evaluated | None] = [None] * len(batch.events)
        waiting = iter(enumerate(batch.events))  # shared: each worker takes the next event

        async def worker() -> None:
            for n, event in waiting:
                try:
                    value = await function(**{**funcargs, EVENT_ARG: event})
                except (*STOPS_THE_RUN, asyncio.CancelledError):
                    raise
                except BaseException as exc:
                    evaluated[n] = _raised_on(item, event, exc)
                else:
                    evaluated[n] = (event, *judged(item, value, threshold))
                event.release()  # at most `limit` parsed events at a time

        await asyncio.gather(*(worker() for _ in range(min(limit, len(batch.events)))))
        item.stash[_CHUNK_KEY] = evaluated

    return evaluate_chunk


def batch_rows(
    item: pytest.Item, report: pytest.TestReport, batch: Batch
) -> tuple[list[Row], list[str], tuple[str, BaseException] | None]:
    """A batch test's rows, one per event it evaluated but the plain passes, those passes' event
    ids, and the chunk's first error (the event's id and the exception) if a metric raised one."""
    first_error = item.stash.get(_FIRST_ERROR_KEY, None)
    if first_error is not None:
        del item.stash[_FIRST_ERROR_KEY]  # it holds the frames, and their locals, alive
    results = item.stash.get(BATCH_RESULTS_KEY, None)
    if results is not None:
        del item.stash[BATCH_RESULTS_KEY]  # the item lives to the end of the session
        rows, passed = results
        return rows, passed, first_error
    # The chunk broke before its events' outcomes: each event is an error. As per case: an
    # error in setup has no snippets, one in the call has its event's.
    assert report.failed
    events = batch.events
    reason = broken_reason(report)
    if report.when == "setup":
        snippets = [("", "")] * len(events)
    else:
        snippets = [snippets_of(event) for event in events]
    rows = [
        row(event.id, "error", reason, None, prompt, response, None)
        for event, (prompt, response) in zip(events, snippets, strict=True)
    ]
    return rows, [], first_error

"""The pytest hooks of pytest-trainloop; each one delegates.

The module's own hooks are the ones every run needs: options, the marker, collecting marked
functions whatever their name, and (without --trainloop) one skipped case per metric with a
hint. The hooks of an evaluation live on `_Run`, registered only with --trainloop, so that an
installed but unused plugin adds nothing to any test's cost.
"""

from __future__ import annotations

import functools
import gc
import inspect
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_trainloop import settings as settings_module
from pytest_trainloop.events import (
    Event,
    EventLineError,
    EventLog,
    EventsNotFoundError,
    read_events,
)
from pytest_trainloop.outcomes import Outcome, crash_message, outcome_of, to_properties
from pytest_trainloop.settings import Settings
from pytest_trainloop.suites import (
    MARKER,
    MARKER_HELP,
    Chosen,
    MetricSpec,
    TrainloopWarning,
    choose,
    parse_marker,
    takes_event,
)

EVENT_ARG = "event"
NOT_ENABLED_HINT = "trainloop metric: run pytest with --trainloop to evaluate it on recorded events"
_SNIPPET = 200  # characters of a case's input and output kept in the results details
_BAD_LINES_SHOWN = 20


@dataclass(eq=False)
class _Batch:
    """The `event` parameter of a batch-mode test: one chunk of a selection's events.

    Every metric with the same selection gets the same chunks, and their tests run one after
    another (see `_by_chunk`), so that a chunk's detail snippets are cut once for all of them
    and held only while its tests run.
    """

    events: tuple[Event, ...]
    selection: Chosen  # the events it is a chunk of
    position: int  # its place among them
    snippets: list[tuple[str, str]] | None = None  # each event's prompt and response, cut


@dataclass(frozen=True)
class _Case:
    """What one collected test needs at run time: its event, or its chunk in batch mode."""

    spec: MetricSpec
    argnames: tuple[str, ...]
    event: Event | None  # not parsed until the test runs: collection stays cheap
    batch: _Batch | None
    concurrent: bool = False  # an async metric in batch mode: the chunk's events run at once


@dataclass(eq=False)  # registered as a plugin: compared and hashed by identity
class _Run:
    """Per-process state and hooks of a --trainloop run (every xdist worker, or a plain run)."""

    settings: Settings
    log: EventLog | None = None
    specs: dict[str, tuple[MetricSpec, tuple[str, ...]]] = field(default_factory=dict)
    homes: dict[tuple[str, str], str] = field(default_factory=dict)  # (suite, metric) -> node id
    chosen: dict[tuple[Any, ...], Chosen] = field(default_factory=dict)
    chunks: dict[int, list[_Batch]] = field(default_factory=dict)  # by id() of their selection
    current_batch: _Batch | None = None  # the chunk whose snippets are kept
    announced_bad_lines: bool = False
    announced_suites: set[str] = field(default_factory=set)

    def events_log(self) -> EventLog:
        if self.log is None:
            try:
                self.log = read_events(self.settings.data_folder)
            except EventsNotFoundError as exc:
                raise pytest.UsageError(
                    f"{exc} (data folder from {self.settings.data_folder_source})"
                ) from None
            if self.log.bad_lines:
                self._report_bad_lines(self.log)
        return self.log

    def _report_bad_lines(self, log: EventLog) -> None:
        shown = "\n".join(f"  {bad}" for bad in log.bad_lines[:_BAD_LINES_SHOWN])
        more = len(log.bad_lines) - _BAD_LINES_SHOWN
        message = (
            f"{len(log.bad_lines)} bad line(s) in {log.folder / 'events'} were skipped:\n{shown}"
            + (f"\n  ... and {more} more, all listed in the results file" if more > 0 else "")
        )
        if self.settings.strict:
            raise pytest.UsageError(message + "\n(--trainloop-strict makes bad lines an error)")
        first = log.bad_lines[0].source
        # Attributed to the first bad line, so the warnings summary points into the data.
        warnings.warn_explicit(TrainloopWarning(message), TrainloopWarning, first.path, first.line)

    def choose(self, spec: MetricSpec) -> Chosen:
        key = (spec.suite, spec.tags, spec.match, spec.include_errors)
        chosen = self.chosen.get(key)
        if chosen is None:
            chosen = self.chosen[key] = choose(
                self.events_log().events, spec, self.settings.selection
            )
        return chosen

    # --- the hooks of a --trainloop run (registered only then: an inert plugin costs nothing
    # per test) ---

    def pytest_report_header(self) -> str:
        s = self.settings
        return f"trainloop: data folder {s.data_folder} (from {s.data_folder_source})"

    def pytest_report_collectionfinish(self) -> str | None:
        log = self.log
        if log is None:
            return None
        return (
            f"trainloop: {len(log.events)} events in {len(log.files)} files, "
            f"{len(log.bad_lines)} bad lines"
        )

    def pytest_collection_finish(self) -> None:
        # The collected cases and their events live until the end of the run: frozen, the
        # garbage collector stops traversing them again and again while the cases run.
        if self.log is not None:
            gc.freeze()

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not self.specs:
            return
        kept: list[pytest.Item] = []
        deselected: list[pytest.Item] = []
        for item in items:
            if not isinstance(item, pytest.Function):
                kept.append(item)
                continue
            entry = self.specs.get(
                f"{item.parent.nodeid}::{item.originalname}" if item.parent else item.nodeid
            )
            if entry is None:
                kept.append(item)
                continue
            spec, argnames = entry
            if not argnames:  # a suite left out by --trainloop-suite
                deselected.append(item)
                continue
            kept.append(item)
            param = item.callspec.params.get(EVENT_ARG)
            identity: dict[str, object] = {"suite": spec.suite, "metric": spec.metric}
            if param is None:  # the one skipped case of a suite with no matching event
                identity["empty"] = item.get_closest_marker("skip").kwargs["reason"]  # type: ignore[union-attr]
            else:
                identity.update(threshold=spec.threshold, min_score=spec.min_score)
                asynchronous = inspect.iscoroutinefunction(item.obj)
                if isinstance(param, _Batch):
                    identity["batch_size"] = len(param.events)
                    item.stash[CASE_KEY] = _Case(spec, argnames, None, param, asynchronous)
                    if asynchronous:
                        item.obj = _evaluate_concurrently(
                            item, item.obj, param, spec.threshold, self.settings.batch_concurrency
                        )
                else:
                    assert isinstance(param, Event)
                    identity["event"] = param.id
                    item.stash[CASE_KEY] = _Case(spec, argnames, param, None)
                    if asynchronous:
                        item.obj = _keep_returned_value(item, item.obj)
            item.user_properties.extend(to_properties(identity))
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = kept
        if self.settings.batch_size is not None:
            items[:] = _by_chunk(items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        case = pyfuncitem.stash.get(CASE_KEY, None)
        if case is None:
            return None
        funcargs = {name: pyfuncitem.funcargs[name] for name in case.argnames}
        if case.batch is not None:
            _run_batch(pyfuncitem, case, funcargs, self)
        else:
            outcome, votes = _evaluate(pyfuncitem, funcargs, case.spec.threshold)
            pyfuncitem.stash[OUTCOME_KEY] = outcome
            if votes:
                pyfuncitem.stash[VOTES_KEY] = votes
        return True  # the return value is ours: pytest must not warn that a test returned one

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report: pytest.TestReport = yield
        case = item.stash.get(CASE_KEY, None)
        if case is None:
            return report
        props = _announcements(self, case.spec.suite)
        if case.batch is not None:
            # A chunk's outcomes come with its call; a fixture that broke gives them at setup.
            if (call.when == "call" and not report.skipped) or (
                call.when == "setup" and report.failed
            ):
                props.update(_batch_into_report(item, report, case, self))
        elif call.when == "call" and not report.skipped:
            verdict = _verdict_into_report(item, call, report, case, self)
            # On the item too: JUnit XML takes a case's properties from its teardown report.
            item.user_properties.extend(to_properties(verdict))
            report.user_properties = list(item.user_properties)
        if props:
            report.user_properties = [*report.user_properties, *to_properties(props)]
        return report


RUN_KEY = pytest.StashKey[_Run]()
CASE_KEY = pytest.StashKey[_Case]()
BATCH_RESULTS_KEY = pytest.StashKey[list[tuple[object, ...]]]()
CHUNK_KEY = pytest.StashKey[list[Any]]()  # what an async metric came to on each event of a chunk
OUTCOME_KEY = pytest.StashKey[Outcome]()
RETURNED_KEY = pytest.StashKey[object]()
JUDGE_KEY = pytest.StashKey[Any]()  # the case's trainloop_judge, when it asked for one
VOTES_KEY = pytest.StashKey[list[list[object]]]()
USAGE_KEY = pytest.StashKey[Any]()


@pytest.fixture(scope="session")
def _trainloop_judge_origin(pytestconfig: pytest.Config) -> Iterator[Any]:
    """The run's judge: its engine (event loop, HTTP client, bound on calls) serves every case."""
    from pytest_trainloop.judge import Judge

    run = pytestconfig.stash.get(RUN_KEY, None)
    run_settings = run.settings if run is not None else Settings.resolve(pytestconfig)
    origin = Judge(run_settings.judge_config())
    yield origin
    origin.close()


@pytest.fixture
def trainloop_judge(request: pytest.FixtureRequest, _trainloop_judge_origin: Any) -> Any:
    """A judge configured from trainloop.config.yaml and --trainloop-judge-*; its calls, cache
    hits and tokens are reported for the case's metric and suite."""
    judge = _trainloop_judge_origin.share()
    request.node.stash[JUDGE_KEY] = judge
    return judge


def pytest_addoption(parser: pytest.Parser) -> None:
    settings_module.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    if not config.getoption("trainloop"):
        return
    run_settings = Settings.resolve(config)
    run = config.stash[RUN_KEY] = _Run(run_settings)
    config.pluginmanager.register(run, "trainloop-run")
    if not hasattr(config, "workerinput"):  # the aggregating process: plain run or controller
        # Imported here: every pytest run imports this module, few of them aggregate.
        from pytest_trainloop.session import TrainloopSession

        config.pluginmanager.register(TrainloopSession(config, run_settings), "trainloop-session")


def _has_marker(obj: object) -> bool:
    marks = getattr(obj, "pytestmark", [])
    marks = marks if isinstance(marks, list) else [marks]
    return any(getattr(mark, "name", None) == MARKER for mark in marks)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> None:
    # Metrics need not be named test_*: flagging them `__test__` lets pytest's own collection
    # take them (and a marked class whatever its name), so nothing else about collection changes.
    if not (inspect.isfunction(obj) or inspect.isclass(obj)) or name.startswith("_"):
        return
    if _has_marker(obj) or (
        inspect.isfunction(obj)
        and any(
            _has_marker(node.obj)
            for node in collector.listchain()
            if isinstance(node, pytest.Module | pytest.Class)
        )
        and takes_event(obj)  # last: reading a signature is the costly check
    ):
        obj.__test__ = True  # type: ignore[union-attr]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    mark = metafunc.definition.get_closest_marker(MARKER)
    if mark is None:
        return
    where = metafunc.definition.nodeid
    spec = parse_marker(mark, metafunc.function.__name__, where)
    if EVENT_ARG not in metafunc.fixturenames:
        raise pytest.UsageError(f"{where}: a {MARKER} metric must take an `event` argument")
    run = metafunc.config.stash.get(RUN_KEY, None)
    if run is None:
        skip = pytest.mark.skip(reason=NOT_ENABLED_HINT)
        metafunc.parametrize(EVENT_ARG, [pytest.param(None, marks=skip, id="not-enabled")])
        return
    selected = run.settings.selection.suites
    if selected and spec.suite not in selected:
        metafunc.parametrize(EVENT_ARG, [pytest.param(None, id="suite-not-selected")])
        run.specs[where] = (spec, ())
        return
    home = run.homes.setdefault((spec.suite, spec.metric), where)
    if home != where:  # their counts would merge into one metric of the results
        raise pytest.UsageError(
            f"{where}: suite {spec.suite!r} already has a metric named {spec.metric!r} "
            f"({home}); give one of them another name or another suite"
        )
    run.specs[where] = (spec, _argnames(metafunc.function))
    chosen = run.choose(spec)
    if not chosen.events:
        tags = ", ".join(run.settings.selection.tags or spec.tags)
        reason = (
            f"no event with tags [{tags}] (match={spec.match}) in "
            f"{run.settings.data_folder / 'events'}"
        )
        metafunc.parametrize(
            EVENT_ARG, [pytest.param(None, id="no-events", marks=pytest.mark.skip(reason=reason))]
        )
        return
    size = run.settings.batch_size
    if size is None:
        metafunc.parametrize(EVENT_ARG, chosen.events, ids=[e.id for e in chosen.events])
        return
    chunks = run.chunks.get(id(chosen))
    if chunks is None:
        events = chosen.events
        chunks = run.chunks[id(chosen)] = [
            _Batch(tuple(events[start : start + size]), chosen, n)
            for n, start in enumerate(range(0, len(events), size))
        ]
    metafunc.parametrize(
        EVENT_ARG, chunks, ids=[f"batch-{n}-of-{len(chunks)}" for n in range(1, len(chunks) + 1)]
    )


def _by_chunk(items: list[pytest.Item]) -> list[pytest.Item]:
    """Batch tests reordered so that the tests of one chunk run one after another.

    A selection's tests stay where its first one was; within it, chunk by chunk, each chunk's
    metrics in their collected order. Other tests keep their places.
    """
    anchors: dict[int, int] = {}  # id() of a selection -> where its first test was

    def place(numbered: tuple[int, pytest.Item]) -> tuple[int, int, int]:
        n, item = numbered
        case = item.stash.get(CASE_KEY, None)
        if case is None or case.batch is None:
            return (n, 0, n)
        first = anchors.setdefault(id(case.batch.selection), n)
        return (first, case.batch.position, n)

    return [item for _, item in sorted(enumerate(items), key=place)]


def _argnames(function: Any) -> tuple[str, ...]:
    """The arguments pytest fills for a function: those without a default (as pytest does)."""
    parameters = inspect.signature(function).parameters.values()
    names = [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty
    ]
    return tuple(names[1:] if names and names[0] == "self" else names)


def _keep_returned_value(item: pytest.Item, function: Any) -> Any:
    """Wrap an async metric so its verdict survives an async plugin that runs it and drops it.

    pytest-asyncio runs a coroutine test through a sync wrapper that discards what it returns;
    the verdict is kept in the item's stash instead, whoever runs the coroutine.
    """

    @functools.wraps(function)
    async def keep(*args: Any, **kwargs: Any) -> None:
        item.stash[RETURNED_KEY] = await function(*args, **kwargs)

    return keep


def _announcements(run: _Run, suite: str) -> dict[str, object]:
    """Run-wide facts for the aggregating process, sent once per process on the report channel.

    Every process collects the same cases, so any one of them can tell: the bad lines, and per
    suite its tags and the failed calls its metrics left out (counted once across metrics).
    """
    props: dict[str, object] = {}
    if not run.announced_bad_lines and run.log is not None:
        run.announced_bad_lines = True
        props["bad_lines"] = [str(bad) for bad in run.log.bad_lines]
        props["left_out_errors"] = len({i for c in run.chosen.values() for i in c.left_out})
    if suite not in run.announced_suites:
        run.announced_suites.add(suite)
        keys = [key for key in run.chosen if key[0] == suite]
        tags = run.settings.selection.tags or tuple(t for key in keys for t in key[1])
        props["suite_info"] = {
            "tags": list(dict.fromkeys(tags)),
            "left_out_errors": len({i for key in keys for i in run.chosen[key].left_out}),
        }
    return props


def _verdict_into_report(
    item: pytest.Item,
    call: pytest.CallInfo[None],
    report: pytest.TestReport,
    case: _Case,
    run: _Run,
) -> dict[str, object]:
    """Give the call report the case's outcome; return the outcome as report properties."""
    event = case.event
    assert event is not None
    outcome = item.stash.get(OUTCOME_KEY, None)
    if outcome is None:  # the metric raised: pytest's report keeps the traceback
        excinfo = call.excinfo
        reason = f"{excinfo.typename}: {excinfo.value}" if excinfo else "error"
        outcome = Outcome("error", reason)
    prompt, response = _snippets(event)
    event._drop_parsed()  # the case is done with it: a run holds no parsed line per case
    verdict: dict[str, object] = {
        "verdict": outcome.kind,
        "reason": outcome.reason,
        "score": outcome.score,
        "input": prompt,
        "output": response,
    }
    usage = _judge_usage(item)
    if usage:
        verdict["judge_usage"] = usage
    if VOTES_KEY in item.stash:
        verdict["judge_votes"] = item.stash[VOTES_KEY]
    label = f"{case.spec.suite}/{case.spec.metric}[{event.id}]"
    if outcome.kind == "failed":
        gate = _tolerating_gate(case.spec, run)
        if gate is not None:
            # Tolerated, yet not a pass: xfailed keeps it visible and out of the exit code.
            report.outcome = "skipped"
            report.wasxfail = f"tolerated by {gate}: {outcome.reason or 'failed'}"
            report.longrepr = None
        else:
            report.outcome = "failed"
            report.longrepr = f"{label} failed: {outcome.reason or 'the metric said no'}"
    elif outcome.kind == "error" and report.passed:  # a return value we cannot read
        report.outcome = "failed"
        report.longrepr = f"{label} error: {outcome.reason}"
    return verdict


def _call_metric(item: pytest.Function, funcargs: dict[str, Any]) -> object:
    """Call the metric with its arguments; what it returns (exceptions propagate)."""
    value = item.obj(**funcargs)
    if type(value) is bool:  # the commonest return, and not a coroutine
        return value
    if inspect.iscoroutine(value):  # an async metric that no async plugin has taken
        import asyncio  # only then: asyncio costs ~13 ms to import

        value = asyncio.run(value)
    # An async metric's verdict, kept by `_keep_returned_value`, whose wrapper returns None.
    if value is None and RETURNED_KEY in item.stash:
        value = item.stash[RETURNED_KEY]
        del item.stash[RETURNED_KEY]
    return value


def _evaluate(
    item: pytest.Function, funcargs: dict[str, Any], threshold: float
) -> tuple[Outcome, list[list[object]] | None]:
    """The metric's outcome on one event, and a judge verdict's votes if it returned one.

    A failed assert is the metric's "no", with the assertion's message as the reason; any other
    exception propagates (per case, pytest reports it with its traceback).
    """
    try:
        value = _call_metric(item, funcargs)
    except AssertionError as exc:
        return _assert_failed(exc), None
    return _judged(item, value, threshold)


def _judged(
    item: pytest.Function, value: object, threshold: float
) -> tuple[Outcome, list[list[object]] | None]:
    """The outcome of a metric that returned `value`, and a judge verdict's votes if any."""
    if value is True or value is False or value is None:  # the commonest: no votes to look for
        return outcome_of(value, threshold), None
    votes = getattr(value, "votes", None)  # a judge's verdict carries its votes
    if not votes:
        return outcome_of(value, threshold), None
    if JUDGE_KEY not in item.stash:  # asked through judge.assert_true: count its usage here
        from pytest_trainloop.judge.panel import add_usage

        add_usage(item.stash.setdefault(USAGE_KEY, {}), getattr(value, "usage", {}))
    return outcome_of(value, threshold), [
        [v.model, v.index, v.claim_answer, v.negation_answer] for v in votes
    ]


def _assert_failed(exc: AssertionError) -> Outcome:
    """A failed assert is the metric's "no", with the assertion's message as the reason."""
    return Outcome("failed", str(exc) or "assertion failed")


# pytest's own rule for a test: whatever it raises is its outcome, except these, which stop the
# run. A metric on one event of a chunk follows the same rule.
_STOPS_THE_RUN = (KeyboardInterrupt, pytest.exit.Exception)


def _raised(exc: BaseException) -> Outcome | None:
    """The outcome of a metric that raised `exc` on one event of a chunk, as it would be per
    case: a failed assert fails, skip and xfail are not counted (None), the rest are errors.

    Only per case does an error keep pytest's own report and traceback; in batch mode it is
    the error of its event, and the chunk's other events still run.
    """
    if isinstance(exc, AssertionError):
        return _assert_failed(exc)
    if isinstance(exc, pytest.skip.Exception | pytest.xfail.Exception):
        return None
    return Outcome("error", f"{type(exc).__name__}: {exc}")


def _judge_usage(item: pytest.Item) -> dict[str, dict[str, int]] | None:
    """The judge calls, cache hits and tokens of a test, per model (None if it judged nothing)."""
    judge = item.stash.get(JUDGE_KEY, None)
    usage = judge.usage if judge is not None else item.stash.get(USAGE_KEY, None)
    return {model: u.as_dict() for model, u in usage.items()} if usage else None


def _snippets(event: Event) -> tuple[str, str]:
    """The start of the event's prompt and response, kept in the results details."""
    try:
        return event.prompt[:_SNIPPET], event.response[:_SNIPPET]
    except EventLineError:  # the metric met the same error: its case is an error already
        return "", ""


# What a metric came to on one event of a chunk: (event, outcome or None if it skipped, votes).
_Evaluated = tuple[Event, Outcome | None, list[list[object]] | None]


def _run_batch(item: pytest.Function, case: _Case, funcargs: dict[str, Any], run: _Run) -> None:
    """Batch mode: the metric on every event of the chunk, each outcome kept as a case would.

    A sync metric's events are evaluated one by one, an async metric's several at a time. Each
    event is parsed, used and dropped at once: parsing a line again costs less than keeping a
    chunk of parsed lines alive (fresh memory for each, and the collector traverses them all,
    measured on 100k events). The snippets are cut by the chunk's first metric and reused by
    the others.
    """
    batch = case.batch
    assert batch is not None
    evaluated: Iterable[_Evaluated]
    if case.concurrent:
        _call_metric(item, funcargs)  # `_evaluate_concurrently`'s coroutine: the whole chunk
        chunk = item.stash[CHUNK_KEY]
        del item.stash[CHUNK_KEY]
        evaluated = chunk
    else:
        evaluated = _one_by_one(item, batch, case.spec.threshold, funcargs)
    if run.current_batch is not batch:  # a new chunk: the snippets of the one before are done
        if run.current_batch is not None:
            run.current_batch.snippets = None
        run.current_batch = batch
    first = batch.snippets is None
    snippets = batch.snippets = batch.snippets or []
    # Tuples, not lists: the garbage collector stops tracking a tuple of strings and numbers,
    # and Python's exit collected 200k list rows several times over (0.5 s at 100k events).
    results: list[tuple[object, ...]] = []
    for n, (event, outcome, votes) in enumerate(evaluated):
        if first:
            snippets.append(_snippets(event))
        prompt, response = snippets[n]
        event._drop_parsed()
        if outcome is not None:
            results.append(
                (event.id, outcome.kind, outcome.reason, outcome.score, prompt, response, votes)
            )
    item.stash[BATCH_RESULTS_KEY] = results


def _one_by_one(
    item: pytest.Function, batch: _Batch, threshold: float, funcargs: dict[str, Any]
) -> Iterator[_Evaluated]:
    """A sync metric on the chunk's events, each evaluated as the caller asks for it."""
    for event in batch.events:
        funcargs[EVENT_ARG] = event
        try:
            value = _call_metric(item, funcargs)
        except _STOPS_THE_RUN:
            raise
        except BaseException as exc:  # this event's outcome; the others still run
            yield event, _raised(exc), None
        else:
            yield event, *_judged(item, value, threshold)


def _evaluate_concurrently(
    item: pytest.Function, function: Any, batch: _Batch, threshold: float, limit: int
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
                except (*_STOPS_THE_RUN, asyncio.CancelledError):
                    raise
                except BaseException as exc:
                    evaluated[n] = (event, _raised(exc), None)
                else:
                    evaluated[n] = (event, *_judged(item, value, threshold))
                event._drop_parsed()  # at most `limit` parsed events at a time

        await asyncio.gather(*(worker() for _ in range(min(limit, len(batch.events)))))
        item.stash[CHUNK_KEY] = evaluated

    return evaluate_chunk


def _batch_into_report(
    item: pytest.Item,
    report: pytest.TestReport,
    case: _Case,
    run: _Run,
) -> dict[str, object]:
    """A batch test's report: every event's outcome, and one pytest outcome for the chunk."""
    results = item.stash.get(BATCH_RESULTS_KEY, None)
    if results is None:  # the chunk broke before its events' outcomes: each event is an error
        assert case.batch is not None and report.failed
        # As per case: an error in setup has no snippets, one in the call has its event's.
        events = case.batch.events
        if report.when == "setup":
            reason = f"error in setup: {crash_message(report)}"
            snippets = [("", "")] * len(events)
        else:
            reason, snippets = crash_message(report), [_snippets(event) for event in events]
        results = [
            (event.id, "error", reason, None, prompt, response, None)
            for event, (prompt, response) in zip(events, snippets, strict=True)
        ]
    props: dict[str, object] = {"batch_results": results}
    usage = _judge_usage(item)
    if usage:
        props["judge_usage"] = usage
    if report.failed:  # the chunk itself broke (a fixture, the loop): pytest's report stands
        return props
    failed = [r for r in results if r[1] == "failed"]
    errors = [r for r in results if r[1] == "error"]
    gate = _tolerating_gate(case.spec, run)
    label = f"{case.spec.suite}/{case.spec.metric}"
    if errors or (failed and gate is None):
        shown = [f"  [{r[0]}] {r[1]}: {r[2]}" for r in (errors + failed)[:20]]
        more = len(errors) + len(failed) - len(shown)
        report.outcome = "failed"
        report.longrepr = "\n".join(
            [
                f"{label}: {len(failed)} failed and {len(errors)} errors of {len(results)} events",
                *shown,
                *([f"  ... and {more} more"] if more > 0 else []),
            ]
        )
    elif failed:
        report.outcome = "skipped"
        report.wasxfail = f"tolerated by {gate}: {len(failed)} of {len(results)} events failed"
        report.longrepr = None
    return props


def _tolerating_gate(spec: MetricSpec, run: _Run) -> str | None:
    if spec.min_score is not None:
        return f"min_score={spec.min_score:g}"
    if run.settings.fail_under is not None:
        return f"--trainloop-fail-under={run.settings.fail_under:g}"
    return None

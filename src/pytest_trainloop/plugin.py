"""The pytest hooks of pytest-trainloop; each one delegates.

The module's own hooks are the ones every run needs: options, the marker, collecting marked
functions whatever their name, and (without --trainloop) one skipped case per metric with a
hint. The hooks of an evaluation live on `_Run`, registered only with --trainloop, so that an
installed but unused plugin adds nothing to any test's cost.
"""

from __future__ import annotations

import gc
import inspect
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

import orjson
import pytest

from pytest_trainloop import settings as settings_module
from pytest_trainloop.batch import (
    Batch,
    batch_into_report,
    by_chunk,
    evaluate_concurrently,
    run_batch,
)
from pytest_trainloop.evaluation import (
    EVENT_ARG,
    JUDGE_KEY,
    evaluate,
    exception_reason,
    judge_usage,
    keep_returned_value,
    snippets_of,
)
from pytest_trainloop.events import Event, EventLog, EventsNotFoundError, read_events
from pytest_trainloop.outcomes import Outcome, to_properties
from pytest_trainloop.settings import Settings
from pytest_trainloop.suites import (
    MARKER,
    MARKER_HELP,
    MARKER_SIGNATURE,
    Chosen,
    MarkerError,
    MetricSpec,
    TrainloopWarning,
    choose,
    parse_marker,
    takes_event,
)

NOT_ENABLED_HINT = "trainloop metric: run pytest with --trainloop to evaluate it on recorded events"
_BAD_LINES_SHOWN = 20
_USAGE_ERROR = "trainloop_usage_error"  # key of a worker's `workeroutput`


@dataclass(frozen=True)
class _Case:
    """What one collected test needs at run time: its event, or its chunk in batch mode."""

    spec: MetricSpec
    argnames: tuple[str, ...]
    event: Event | None  # not parsed until the test runs: collection stays cheap
    batch: Batch | None
    concurrent: bool = False  # an async metric in batch mode: the chunk's events run at once


@dataclass(eq=False)  # registered as a plugin: compared and hashed by identity
class _Run:
    """Per-process state and hooks of a --trainloop run (every xdist worker, or a plain run)."""

    settings: Settings
    on_worker: bool = False  # an xdist worker: its reports travel to the controller
    log: EventLog | None = None
    specs: dict[str, tuple[MetricSpec, tuple[str, ...]]] = field(default_factory=dict)
    # (suite, metric) -> the node id and file:line of the function that has it
    homes: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    chosen: dict[tuple[Any, ...], Chosen] = field(default_factory=dict)
    chunks: dict[int, list[Batch]] = field(default_factory=dict)  # by id() of their selection
    current_batch: Batch | None = None  # the chunk whose snippets are kept
    announced_bad_lines: bool = False
    announced_suites: set[str] = field(default_factory=set)
    usage_error: str = ""  # the controller's: a worker found the run's options wrong
    case_counts: dict[str, int] | None = None  # see `_case_counts`

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
        events = log.events_folder
        # Each by `file:line: reason`: a bad line's bytes are never shown, for they may be
        # megabytes of prompt text, secrets included.
        shown = "\n".join(f"  {bad}" for bad in log.bad_lines[:_BAD_LINES_SHOWN])
        more = len(log.bad_lines) - _BAD_LINES_SHOWN
        if self.settings.strict:
            raise pytest.UsageError(
                f"{len(log.bad_lines)} bad line(s) in {events}:\n{shown}"
                + (f"\n  ... and {more} more" if more > 0 else "")
                + "\n--trainloop-strict makes bad lines an error: fix or remove them, or run "
                "without it to skip them with a warning"
            )
        message = f"{len(log.bad_lines)} bad line(s) in {events} were skipped:\n{shown}" + (
            f"\n  ... and {more} more, all listed in the results file" if more > 0 else ""
        )
        # Attributed to the events folder, not to a bad line's file and line: pytest's warnings
        # summary prints the source line a warning is attributed to (read whole, however big);
        # a folder has no line to print.
        warnings.warn_explicit(TrainloopWarning(message), TrainloopWarning, str(events), 0)

    def choose(self, spec: MetricSpec) -> Chosen:
        key = (spec.suite, spec.tags, spec.match, spec.include_errors)
        chosen = self.chosen.get(key)
        if chosen is None:
            chosen = self.chosen[key] = choose(
                self.events_log().events, spec, self.settings.selection
            )
        return chosen

    def _unknown_suites(self, config: pytest.Config, items: list[pytest.Item]) -> bool:
        """--trainloop-suite names a suite no collected metric has: a usage error, listing them.

        Raised where the cases were collected; but a usage error raised on an xdist worker
        breaks the controller (an INTERNALERROR), so a worker runs nothing and leaves the
        message for the controller, which ends the run with it (`pytest_testnodedown`).
        """
        known = sorted({spec.suite for spec, _ in self.specs.values()})
        unknown = [name for name in self.settings.selection.suites if name not in known]
        if not unknown:
            return False
        message = (
            f"--trainloop-suite: no suite named {', '.join(map(repr, unknown))}; "
            f"the suites of the collected metrics are: {', '.join(known)}"
        )
        if not self.on_worker:
            raise pytest.UsageError(message)
        config.workeroutput[_USAGE_ERROR] = message  # type: ignore[attr-defined]
        config.hook.pytest_deselected(items=list(items))
        items.clear()
        return True

    @pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook, called on the controller
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        message = getattr(node, "workeroutput", {}).get(_USAGE_ERROR)
        if message:
            self.usage_error = str(message)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.usage_error:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.usage_error:
            terminalreporter.write_line(f"ERROR: {self.usage_error}", red=True)

    # --- the hooks of a --trainloop run (registered only then: an inert plugin costs nothing
    # per test) ---

    def pytest_report_header(self) -> str:
        s = self.settings
        return f"trainloop: data folder {s.data_folder_shown} (from {s.data_folder_source})"

    def pytest_report_collectionfinish(self) -> str | None:
        log = self.log
        if log is None:
            return None
        return (
            f"trainloop: {len(log.events)} events in {len(log.files)} files, "
            f"{len(log.bad_lines)} bad lines"
        )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.case_counts = _case_counts(self, session.items)
        # The collected cases and their events live until the end of the run: frozen, the
        # garbage collector stops traversing them again and again while the cases run.
        if self.log is not None:
            gc.freeze()

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not self.specs or self._unknown_suites(config, items):
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
                identity["empty"], fails = _nothing_to_evaluate(self, spec, self.choose(spec))
                if fails:
                    identity["empty_fails"] = True
            else:
                identity.update(threshold=spec.threshold, min_score=spec.min_score)
                asynchronous = inspect.iscoroutinefunction(item.obj)
                if isinstance(param, Batch):
                    identity["batch_size"] = len(param.events)
                    item.stash[CASE_KEY] = _Case(spec, argnames, None, param, asynchronous)
                    if asynchronous:
                        item.obj = evaluate_concurrently(
                            item, item.obj, param, spec.threshold, self.settings.batch_concurrency
                        )
                else:
                    assert isinstance(param, Event)
                    identity["event"] = param.id
                    item.stash[CASE_KEY] = _Case(spec, argnames, param, None)
                    if asynchronous:
                        item.obj = keep_returned_value(item, item.obj)
            item.user_properties.extend(to_properties(identity))
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = kept
        if self.settings.batch_size is not None:
            items[:] = by_chunk(items, _batch_of)

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        case = pyfuncitem.stash.get(CASE_KEY, None)
        if case is None:
            return None
        funcargs = {name: pyfuncitem.funcargs[name] for name in case.argnames}
        batch = case.batch
        if batch is not None:
            if self.current_batch is not batch:  # a new chunk: the one before is done
                if self.current_batch is not None:
                    self.current_batch.snippets = None
                self.current_batch = batch
            run_batch(pyfuncitem, batch, case.spec.threshold, case.concurrent, funcargs)
        else:
            outcome, votes = evaluate(pyfuncitem, funcargs, case.spec.threshold)
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
                label = f"{case.spec.suite}/{case.spec.metric}"
                gate = _tolerating_gate(case.spec, self)
                props.update(batch_into_report(item, report, case.batch, label, gate))
                if self.on_worker:
                    # One string for execnet rather than thousands of rows: its pure-Python
                    # serializer took 1.3 s to send 200k rows, and the controller 1 s to read them.
                    props["batch_results"] = orjson.dumps(props["batch_results"]).decode()
            elif call.when == "setup" and self.on_worker:
                # Should this worker die in the chunk, the controller still knows its events:
                # one string per chunk (ids hold no space), as its outcomes are.
                props["batch_events"] = " ".join(event.id for event in case.batch.events)
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
OUTCOME_KEY = pytest.StashKey[Outcome]()
VOTES_KEY = pytest.StashKey[list[list[object]]]()


def _batch_of(item: pytest.Item) -> Batch | None:
    case = item.stash.get(CASE_KEY, None)
    return None if case is None else case.batch


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
    on_worker = hasattr(config, "workerinput")
    run = config.stash[RUN_KEY] = _Run(run_settings, on_worker)
    config.pluginmanager.register(run, "trainloop-run")
    if not on_worker:  # the aggregating process: plain run or controller
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
    name = metafunc.function.__name__
    try:
        spec = parse_marker(mark, name)
    except MarkerError as exc:
        wrong = str(exc)  # reported outside the handler: not "during handling of" anything
    else:
        wrong = ""
    if wrong:
        _bad_metric(
            metafunc, f"@pytest.mark.{MARKER} on {name}: {wrong}\nthe marker: {MARKER_SIGNATURE}"
        )
    if EVENT_ARG not in metafunc.fixturenames:
        _bad_metric(
            metafunc,
            f"{name} is a {MARKER} metric: it must take an `event` argument, the recorded "
            f"event it evaluates (def {name}(event): ...)",
        )
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
    home, home_line = run.homes.setdefault((spec.suite, spec.metric), (where, _location(metafunc)))
    if home != where:  # their counts would merge into one metric of the results
        _bad_metric(
            metafunc,
            f"suite {spec.suite!r} already has a metric named {spec.metric!r} ({home_line}, "
            f"{home}); give one of them another name or another suite",
        )
    run.specs[where] = (spec, _argnames(metafunc.function))
    chosen = run.choose(spec)
    if not chosen.events:
        reason, _ = _nothing_to_evaluate(run, spec, chosen)
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
            Batch(tuple(events[start : start + size]), chosen, n)
            for n, start in enumerate(range(0, len(events), size))
        ]
    metafunc.parametrize(
        EVENT_ARG, chunks, ids=[f"batch-{n}-of-{len(chunks)}" for n in range(1, len(chunks) + 1)]
    )


def _nothing_to_evaluate(run: _Run, spec: MetricSpec, chosen: Chosen) -> tuple[str, bool]:
    """Why a metric has no case, and whether that fails the run.

    An evaluation of nothing is no green build: a suite whose tags select no event fails the
    run (a typo, a renamed tag), and so does a gated metric that the run's own narrowing
    (--trainloop-since, ...) left with nothing, unless the marker says allow_empty=True.
    """
    tags = f"tags [{', '.join(run.settings.selection.tags or spec.tags)}] (match={spec.match})"
    folder = run.settings.events_folder_shown
    if chosen.matched:
        reason = (
            f"the run's selection left none of the {chosen.matched} events with {tags} in {folder}"
        )
        fails = spec.min_score is not None
    else:
        reason = f"no event with {tags} in {folder}"
        if chosen.left_out:
            reason += f", only {len(chosen.left_out)} failed calls (include_errors=True takes them)"
        fails = True
    return reason, fails and not spec.allow_empty


def _location(metafunc: pytest.Metafunc) -> str:
    path, line, _ = metafunc.definition.location
    return path if line is None else f"{path}:{line + 1}"


def _bad_metric(metafunc: pytest.Metafunc, message: str) -> NoReturn:
    """A mistake in how a metric is declared: one collection error that starts at its file:line
    and says what is wrong, without a traceback (the frames would be pytest's and ours)."""
    pytest.fail(f"{_location(metafunc)}: {message}", pytrace=False)


def _argnames(function: Any) -> tuple[str, ...]:
    """The arguments pytest fills for a function: those without a default (as pytest does)."""
    parameters = inspect.signature(function).parameters.values()
    names = [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty
    ]
    return tuple(names[1:] if names and names[0] == "self" else names)


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
        props["cases"] = run.case_counts
    if suite not in run.announced_suites:
        run.announced_suites.add(suite)
        keys = [key for key in run.chosen if key[0] == suite]
        tags = run.settings.selection.tags or tuple(t for key in keys for t in key[1])
        props["suite_info"] = {
            "tags": list(dict.fromkeys(tags)),
            "left_out_errors": len({i for key in keys for i in run.chosen[key].left_out}),
        }
    return props


def _case_counts(run: _Run, items: list[pytest.Item]) -> dict[str, int]:
    """Cases the collected suites selected, and those left after pytest's narrowing (-k, -m,
    --lf, --deselect, node ids): counted in each process, as an xdist controller collects none."""
    cases = [item.stash.get(CASE_KEY, None) for item in items]
    return {
        "selected": sum(len(run.choose(s).events) for s, names in run.specs.values() if names),
        "collected": sum(len(c.batch.events) if c.batch else 1 for c in cases if c is not None),
    }


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
        reason = exception_reason(excinfo.value) if excinfo else "error"
        outcome = Outcome("error", reason)
    prompt, response = snippets_of(event)
    event.release()  # the case is done with it: a run holds no parsed line per case
    verdict: dict[str, object] = {
        "verdict": outcome.kind,
        "reason": outcome.reason,
        "score": outcome.score,
        "input": prompt,
        "output": response,
    }
    usage = judge_usage(item)
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


def _tolerating_gate(spec: MetricSpec, run: _Run) -> str | None:
    if spec.min_score is not None:
        return f"min_score={spec.min_score:g}"
    if run.settings.fail_under is not None:
        return f"--trainloop-fail-under={run.settings.fail_under:g}"
    return None

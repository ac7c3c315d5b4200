"""The state of a --trainloop run in one process (every xdist worker, or a plain run), and its
hooks: reading the events, making each metric's cases, running them, and sending what they came
to on the report channel (channel.py).

`Run` is registered as a plugin in `pytest_configure`, only with --trainloop (an installed but
unused plugin adds nothing to any test's cost), and closed in `pytest_unconfigure`: nothing it
opened outlives the run, which matters to in-process runs (pytester) and embedders.
"""

from __future__ import annotations

import atexit
import gc
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_trainloop.baseline import MetricBaseline, Verdicts, read_verdicts, tolerating_label
from pytest_trainloop.batch import Batch, by_chunk, evaluate_concurrently, run_batch
from pytest_trainloop.channel import batch_into_report, case_into_report
from pytest_trainloop.collect import (
    argnames,
    bad_metric,
    location,
    nothing_to_evaluate,
    report_bad_lines,
)
from pytest_trainloop.evaluation import (
    OUTCOME_KEY,
    VOTES_KEY,
    evaluate,
    keep_returned_value,
)
from pytest_trainloop.events import Event, EventLog, EventsNotFoundError, read_events
from pytest_trainloop.marker import EVENT_ARG
from pytest_trainloop.records import (
    USAGE_ERROR,
    Announcement,
    BatchEvents,
    Identity,
    Properties,
    RunFacts,
    SuiteFacts,
)
from pytest_trainloop.settings import BASELINE_INPUT, Settings
from pytest_trainloop.suites import Chosen, MetricSpec, choose


@dataclass(frozen=True)
class Case:
    """What one collected test needs at run time: its event, or its chunk in batch mode."""

    spec: MetricSpec
    argnames: tuple[str, ...]
    event: Event | None  # not parsed until the test runs: collection stays cheap
    batch: Batch | None
    concurrent: bool = False  # an async metric in batch mode: the chunk's events run at once


CASE_KEY = pytest.StashKey[Case]()


def _batch_of(item: pytest.Item) -> Batch | None:
    case = item.stash.get(CASE_KEY, None)
    return None if case is None else case.batch


@dataclass(eq=False)  # registered as a plugin: compared and hashed by identity
class Run:
    """Per-process state and hooks of a --trainloop run."""

    settings: Settings
    on_worker: bool = False  # an xdist worker: its reports travel to the controller
    log: EventLog | None = None
    specs: dict[str, tuple[MetricSpec, tuple[str, ...]]] = field(default_factory=dict)
    # (suite, metric) -> the node id and file:line of the function that has it
    homes: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    chosen: dict[tuple[Any, ...], Chosen] = field(default_factory=dict)
    chunks: dict[int, list[Batch]] = field(default_factory=dict)  # by id() of their selection
    current_batch: Batch | None = None  # the chunk whose parsed lines are kept
    announced_run: bool = False
    announced_suites: set[str] = field(default_factory=set)
    usage_error: str = ""  # the controller's: a worker found the run's options wrong
    case_counts: tuple[int, int] | None = None  # see `_case_counts`
    froze: bool = False  # whether `gc.freeze()` is ours to undo
    baseline_verdicts: Verdicts | None = None  # read once, when a case first needs them
    metric_baselines: dict[tuple[str, str], MetricBaseline | None] = field(default_factory=dict)

    def events_log(self) -> EventLog:
        if self.log is None:
            collecting = gc.isenabled()
            gc.disable()  # the reader pauses it too; here it stays paused until ...
            try:
                self.log = read_events(self.settings.data_folder)
            except EventsNotFoundError as exc:
                raise pytest.UsageError(
                    f"{exc} (data folder from {self.settings.data_folder_source})"
                ) from None
            finally:
                if self.log is not None:
                    # ... the events, alive to the end of the run, are frozen: the collector's
                    # first passes over them as young objects took 0.4 s at 1M events.
                    self._freeze()
                if collecting:
                    gc.enable()
            if self.log.bad_lines:
                report_bad_lines(self.log, self.settings.strict)
        return self.log

    def choose(self, spec: MetricSpec) -> Chosen:
        key = (spec.suite, spec.tags, spec.match, spec.include_errors)
        chosen = self.chosen.get(key)
        if chosen is None:
            chosen = self.chosen[key] = choose(
                self.events_log().events, spec, self.settings.selection
            )
        return chosen

    def baseline_of(self, spec: MetricSpec) -> MetricBaseline | None:
        """The metric's cases in the baseline (None: no baseline, or it lacks the metric), for
        JUnit's baseline verdict and a regression gate's tolerance; decided once per metric.
        Batch mode has no per-case JUnit entry: there only a gate needs the baseline."""
        key = (spec.suite, spec.metric)
        if key in self.metric_baselines:
            return self.metric_baselines[key]
        s = self.settings
        found = None
        if s.baseline is not None:
            label = tolerating_label(spec.max_drop, s.fail_on_regression, s.max_drop)
            if label is not None or s.batch_size is None:
                if self.baseline_verdicts is None:
                    self.baseline_verdicts = read_verdicts(s.baseline)
                verdicts = self.baseline_verdicts.get(key)
                if verdicts is not None:
                    found = MetricBaseline(verdicts, label)
        self.metric_baselines[key] = found
        return found

    # --- collection -------------------------------------------------------------------------

    def parametrize(self, metafunc: pytest.Metafunc, spec: MetricSpec) -> None:
        """A metric's cases: one per event it selects (or per chunk in batch mode)."""
        where = metafunc.definition.nodeid
        selected = self.settings.selection.suites
        if selected and spec.suite not in selected:
            metafunc.parametrize(EVENT_ARG, [pytest.param(None, id="suite-not-selected")])
            self.specs[where] = (spec, ())
            return
        key = (spec.suite, spec.metric)
        home, home_line = self.homes.setdefault(key, (where, location(metafunc)))
        if home != where:  # their counts would merge into one metric of the results
            bad_metric(
                metafunc,
                f"suite {spec.suite!r} already has a metric named {spec.metric!r} ({home_line}, "
                f"{home}); give one of them another name or another suite",
            )
        self.specs[where] = (spec, argnames(metafunc.function))
        chosen = self.choose(spec)
        if not chosen.events:
            reason, _ = nothing_to_evaluate(self.settings, spec, chosen)
            skip = pytest.mark.skip(reason=reason)
            metafunc.parametrize(EVENT_ARG, [pytest.param(None, id="no-events", marks=skip)])
            return
        size = self.settings.batch_size
        if size is None:
            metafunc.parametrize(EVENT_ARG, chosen.events, ids=[e.id for e in chosen.events])
            return
        chunks = self.chunks.get(id(chosen))
        if chunks is None:
            events = chosen.events
            chunks = self.chunks[id(chosen)] = [
                Batch(tuple(events[start : start + size]), chosen, n)
                for n, start in enumerate(range(0, len(events), size))
            ]
        ids = [f"batch-{n}-of-{len(chunks)}" for n in range(1, len(chunks) + 1)]
        metafunc.parametrize(EVENT_ARG, chunks, ids=ids)

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
        config.workeroutput[USAGE_ERROR] = message  # type: ignore[attr-defined]
        config.hook.pytest_deselected(items=list(items))
        items.clear()
        return True

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
            spec, names = entry
            if not names:  # a suite left out by --trainloop-suite
                deselected.append(item)
                continue
            kept.append(item)
            item.user_properties.extend(self._identity(item, spec, names).to_properties())
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = kept
        if self.settings.batch_size is not None:
            items[:] = by_chunk(items, _batch_of)

    def _identity(
        self, item: pytest.Function, spec: MetricSpec, names: tuple[str, ...]
    ) -> Identity:
        """The test's identity on the channel; its case kept in its stash for the run."""
        param = item.callspec.params.get(EVENT_ARG)
        if param is None:  # the one skipped case of a suite with no matching event
            empty, fails = nothing_to_evaluate(self.settings, spec, self.choose(spec))
            return Identity(spec.suite, spec.metric, empty=empty, empty_fails=fails)
        asynchronous = inspect.iscoroutinefunction(item.obj)
        if isinstance(param, Batch):
            item.stash[CASE_KEY] = Case(spec, names, None, param, asynchronous)
            if asynchronous:
                limit = self.settings.batch_concurrency
                item.obj = evaluate_concurrently(item, item.obj, param, spec.threshold, limit)
            size = len(param.events)
            return Identity(
                spec.suite,
                spec.metric,
                spec.threshold,
                spec.min_score,
                None,
                size,
                max_drop=spec.max_drop,
            )
        assert isinstance(param, Event)
        item.stash[CASE_KEY] = Case(spec, names, param, None)
        if asynchronous:
            item.obj = keep_returned_value(item, item.obj)
        return Identity(
            spec.suite,
            spec.metric,
            spec.threshold,
            spec.min_score,
            param.id,
            max_drop=spec.max_drop,
        )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.case_counts = self._case_counts(session.items)
        # The collected cases and their events live until the end of the run: frozen, the
        # garbage collector stops traversing them again and again while the cases run.
        if self.log is not None:
            self._freeze()

    def _freeze(self) -> None:
        # Undone in `pytest_unconfigure`, only if nothing was frozen before our first freeze:
        # gc can only unfreeze everything, and what someone else froze is theirs.
        self.froze = self.froze or gc.get_freeze_count() == 0
        gc.freeze()

    def _case_counts(self, items: list[pytest.Item]) -> tuple[int, int]:
        """Cases the collected suites selected, and those left after pytest's narrowing (-k, -m,
        --lf, --deselect, node ids): counted in each process, as an xdist controller collects
        none."""
        cases = [item.stash.get(CASE_KEY, None) for item in items]
        return (
            sum(len(self.choose(s).events) for s, names in self.specs.values() if names),
            sum(len(c.batch.events) if c.batch else 1 for c in cases if c is not None),
        )

    # --- running ----------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        case = pyfuncitem.stash.get(CASE_KEY, None)
        if case is None:
            return None
        funcargs = {name: pyfuncitem.funcargs[name] for name in case.argnames}
        batch = case.batch
        if batch is not None:
            if self.current_batch is not batch:  # a new chunk: the one before is done
                self._chunk_done()
                self.current_batch = batch
                batch.hold(case.concurrent)
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
        sent = self._announcement(case.spec.suite)
        fail_under, shard = self.settings.fail_under, self.settings.selection.shard
        if case.batch is not None:
            # A chunk's outcomes come with its call; a fixture that broke gives them at setup.
            if (call.when == "call" and not report.skipped) or (
                call.when == "setup" and report.failed
            ):
                baseline = self.baseline_of(case.spec)
                outcome = batch_into_report(
                    item, report, case.batch, case.spec, fail_under, baseline, shard
                )
                sent += outcome.to_properties(as_text=self.on_worker)
            elif call.when == "setup" and self.on_worker:
                sent += BatchEvents(tuple(event.id for event in case.batch.events)).to_properties()
        elif call.when == "call" and not report.skipped:
            assert case.event is not None
            baseline = self.baseline_of(case.spec)
            verdict = case_into_report(
                item, call, report, case.spec, case.event, fail_under, baseline, shard
            )
            # On the item too: JUnit XML takes a case's properties from its teardown report.
            item.user_properties.extend(verdict.to_properties())
            report.user_properties = list(item.user_properties)
        if sent:
            report.user_properties = [*report.user_properties, *sent]
        return report

    def _announcement(self, suite: str) -> Properties:
        """Run-wide facts for the aggregating process, sent once per process (and suite)."""
        run = suite_facts = None
        if not self.announced_run and self.log is not None:
            self.announced_run = True
            left_out = len({i for c in self.chosen.values() for i in c.left_out})
            bad = [str(bad) for bad in self.log.bad_lines]
            run = RunFacts(bad, left_out, self.case_counts)
        if suite not in self.announced_suites:
            self.announced_suites.add(suite)
            keys = [key for key in self.chosen if key[0] == suite]
            tags = self.settings.selection.tags or tuple(t for key in keys for t in key[1])
            left_out = len({i for key in keys for i in self.chosen[key].left_out})
            suite_facts = SuiteFacts(list(dict.fromkeys(tags)), left_out)
        if run is None and suite_facts is None:
            return []
        return Announcement(run, suite_facts).to_properties()

    # --- the end ----------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook, called on the controller
    def pytest_configure_node(self, node: Any) -> None:
        # Workers compare with the file the controller resolved (`latest` could name another
        # run by the time a worker starts) and checked: none reads and checks it again.
        if self.settings.baseline is not None:
            node.workerinput[BASELINE_INPUT] = str(self.settings.baseline)

    @pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook, called on the controller
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        message = getattr(node, "workeroutput", {}).get(USAGE_ERROR)
        if message:
            self.usage_error = str(message)

    @pytest.hookimpl(tryfirst=True, specname="pytest_sessionfinish")
    def _chunk_done(self) -> None:
        """The chunk running is done (the tests are, or a new chunk begins)."""
        if self.current_batch is not None:
            self.current_batch.release()
            self.current_batch = None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.usage_error:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.usage_error:
            terminalreporter.write_line(f"ERROR: {self.usage_error}", red=True)

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

    def pytest_unconfigure(self) -> None:
        """Nothing of the run outlives it: the event files' descriptors (and, see `thaw`, the
        frozen objects)."""
        self._chunk_done()  # done at the session's end already, unless it never came
        if self.log is not None:
            self.log.close()

    def thaw(self) -> None:
        """Undo our freezes: a cleanup of the config, registered at configure (plugin.py), so
        that it runs after pytest's own cleanup. That one collects garbage (the
        unraisable-exception plugin, twice at the end of a run), which over unfrozen events
        traversed them all: 0.65 s at 1M events."""
        if self.froze:
            gc.unfreeze()
            self.froze = False
            # ... but the process's exit must not pay for it: its collection would traverse
            # every case's objects, still alive (+12% CPU of a 6000-case run, measured). At exit
            # what is alive is frozen again, as it was when the run ended. Registered once.
            atexit.unregister(gc.freeze)
            atexit.register(gc.freeze)

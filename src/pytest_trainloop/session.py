"""The controller's side: fold every case's report, write the results, apply the gates, print.

Registered as a plugin object only in the process that aggregates (the pytest-xdist controller,
or the single process of a plain run); workers only attach outcomes to their reports.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_trainloop import results, shards
from pytest_trainloop.events import EventLog
from pytest_trainloop.marker import TrainloopWarning
from pytest_trainloop.outcomes import broken_reason
from pytest_trainloop.records import (
    Announcement,
    BatchOutcome,
    Identity,
    receive,
    without_batch_rows,
)
from pytest_trainloop.report.files import ReportFile, write_reports
from pytest_trainloop.settings import Settings
from pytest_trainloop.summary import Case, Gate, Tally, merge_usage

if TYPE_CHECKING:
    from pytest_trainloop.baseline import Compared


class TrainloopSession:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.tally = Tally()
        self.bad_lines: list[str] = []
        self.seen_any = False
        self.results_path: Path | None = None
        self.started = time.time()  # temp files older than this are left by killed writes
        self.partial: list[str] = []  # why the run is partial, decided at its end
        # the cases the suites selected and those collected, as a process counted them
        self._case_counts: tuple[int, int] | None = None
        self._stopped: str | None = None  # the message of the interrupt that stopped the run
        self.gates: list[Gate] = []  # decided once at the end of the run, then printed
        self.reports: list[ReportFile] = []  # the report files written at the end of the run
        # nodeid -> (suite, metric, event ids, events) of cases whose setup reported, so that a
        # crash can be attributed (a batch-mode test's ids from its worker)
        self._started: dict[str, tuple[str, str, tuple[str, ...], int]] = {}
        self._counted: set[str] = set()
        self.compared: Compared | None = None  # with --trainloop-baseline, at the end of the run
        self.baseline_error: str | None = None  # the baseline could not be read at the end

    # --- folding ------------------------------------------------------------------------------

    def _announced(self, announcement: Announcement, suite: str) -> None:
        facts = announcement.run
        if facts is not None:  # every process announces the same facts: any one will do
            self.bad_lines = facts.bad_lines
            self.tally.left_out_total = facts.left_out_errors
            self._case_counts = facts.cases
        if announcement.suite is not None:
            self.tally.suite_tags[suite] = announcement.suite.tags
            self.tally.left_out_errors[suite] = announcement.suite.left_out_errors

    def _count(self, nodeid: str, case: Case) -> None:
        if nodeid in self._counted:
            return
        self._counted.add(nodeid)
        self.tally.add(case)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            return  # it carries nothing its setup and call reports did not
        got = receive(report.user_properties)
        if got is None:
            if report.when not in ("setup", "call") and report.failed:
                self._crashed(report)
            return
        self.seen_any = True
        case = got.identity
        suite, metric = case.suite, case.metric
        if got.announcement is not None:
            self._announced(got.announcement, suite)
        if case.empty is None:
            tally = self.tally.metric(suite, metric)
            tally.min_score = case.min_score
            tally.threshold = case.threshold
            tally.max_drop = case.max_drop
        if report.when == "setup":
            if case.empty is not None:
                self.tally.empty_suites[suite] = case.empty
                self.tally.empty_metrics[(suite, metric)] = case.empty
                if case.empty_fails:
                    self.tally.must_not_be_empty[(suite, metric)] = case.empty
            elif got.batch is not None:  # a batch's fixture broke: an error per event
                self._fold_batch(report, case, got.batch)
            elif report.failed:  # a fixture of the metric broke: the case is an error
                error = Case(suite, metric, case.event or "", "error", broken_reason(report))
                self._count(report.nodeid, error)
            else:
                ids = got.batch_events.ids if got.batch_events else (case.event or "",)
                self._started[report.nodeid] = (suite, metric, ids, case.batch_size or 1)
        elif report.when == "call" and got.batch is not None:
            self._started.pop(report.nodeid, None)
            self._fold_batch(report, case, got.batch)
        elif report.when == "call" and got.verdict is not None:
            self._started.pop(report.nodeid, None)
            v = got.verdict
            self._count(
                report.nodeid,
                Case(
                    suite,
                    metric,
                    case.event or "",
                    v.kind,
                    v.reason,
                    v.score,
                    v.input,
                    v.output,
                    v.judge_usage,
                    v.judge_votes,
                ),
            )

    def _fold_batch(self, report: pytest.TestReport, case: Identity, batch: BatchOutcome) -> None:
        """A batch-mode test's report: one case per event it evaluated (its rows then dropped
        from the report, which pytest keeps)."""
        report.user_properties = without_batch_rows(report.user_properties)
        if report.nodeid in self._counted:
            return  # one report per batch test: no need to mark each of its events counted
        self._counted.add(report.nodeid)
        tally = self.tally.metric(case.suite, case.metric)
        # Folded without a `Case` each, which cost a third of a 100k-event batch run; a row's
        # fields are in `count`'s order (records.Row, checked by mypy).
        tally.count_plain_passes(batch.passed)
        tally.count_rows(batch.rows)
        if batch.judge_usage:
            merge_usage(tally.judge_usage, batch.judge_usage)

    def _crashed(self, report: pytest.TestReport) -> None:
        """A report made up by pytest-xdist for a case whose worker died."""
        started = self._started.get(report.nodeid)
        if started is not None:  # one error per event it held
            suite, metric, event_ids, events = started
            reason = "the worker running this case crashed"
            if event_ids == ("",):
                event_ids = ("",) * events
            for n, event_id in enumerate(event_ids):
                nodeid = report.nodeid if len(event_ids) == 1 else f"{report.nodeid}#{n}"
                self._count(nodeid, Case(suite, metric, event_id, "error", reason))
        elif self.seen_any:
            self.tally.unattributed_errors += 1

    @pytest.hookimpl
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # A Ctrl-C, pytest.exit(), or pytest-xdist stopping its workers (its -x and --maxfail
        # stop this way, with pytest's own "stopping after N failures").
        self._stopped = str(excinfo.value)

    # --- end of the run -----------------------------------------------------------------------

    def _configuration(self) -> dict[str, Any]:
        s = self.settings
        sel = s.selection
        option = self.config.getoption
        return {
            "data_folder": s.data_folder_shown,
            "data_folder_source": s.data_folder_source,
            "suites": list(sel.suites),
            "tags": None if sel.tags is None else list(sel.tags),
            "limit": sel.limit,
            "sample": sel.sample,
            "seed": sel.seed,
            "since": None if sel.since is None else sel.since.isoformat(),
            "until": None if sel.until is None else sel.until.isoformat(),
            "fail_under": s.fail_under,
            # pytest's own narrowing: each may leave cases of the suites out of the run
            "keyword": option("keyword", "") or None,
            "markexpr": option("markexpr", "") or None,
            "last_failed": bool(option("lf", False)),
            "maxfail": option("maxfail", 0) or None,  # -x is --maxfail 1
            "deselect": list(option("deselect", None) or []),
            "stepwise": bool(option("stepwise", False)),
            "batch": s.batch_size is not None,
            "batch_size": s.batch_size,
            "shard": shards.configuration(sel.shard),
        }

    def _partial(self, session: pytest.Session, configuration: dict[str, Any]) -> list[str]:
        """Why this run did not evaluate every case its suites selected (empty: it did)."""
        c = configuration
        reasons: list[str] = []
        stop = str(self._stopped or session.shouldfail or session.shouldstop or "")
        if c["maxfail"] and stop.startswith("stopping after"):  # pytest's and xdist's words
            reasons.append("stopped early by -x/--maxfail")
        elif session.exitstatus == pytest.ExitCode.INTERRUPTED:
            # A worker's Ctrl-C reaches the controller as "<worker> received keyboard-interrupt".
            shown = "Ctrl-C" if not stop or "keyboard-interrupt" in stop else stop
            reasons.append(f"interrupted ({shown})")
        elif stop:
            reasons.append(f"stopped early: {stop}")
        lf = self.config.pluginmanager.getplugin("lfplugin")
        if c["last_failed"] and getattr(lf, "lastfailed", None):  # reruns only what failed
            reasons.append("--lf")  # named even when its skipped files hid every case it left
        selected, collected = self._case_counts or (0, 0)
        if collected < selected:
            reasons += [f"-k {c['keyword']!r}"] if c["keyword"] else []
            reasons += [f"-m {c['markexpr']!r}"] if c["markexpr"] else []
            reasons += [f"--deselect {' '.join(c['deselect'])}"] if c["deselect"] else []
            reasons += ["--sw"] if c["stepwise"] else []
            reasons.append(f"{selected - collected} of {selected} cases deselected")
        for name in ("suite", "tags", "limit", "sample", "since", "until"):
            value = c["suites" if name == "suite" else name]
            if value:
                shown = ",".join(value) if isinstance(value, list) else value
                reasons.append(f"--trainloop-{name} {shown}")
        shard = self.settings.selection.shard
        return [*reasons, shards.label(shard)] if shard else reasons

    def _events(self) -> EventLog | None:
        """The events this process read, if it did (a plain run; an xdist controller reads
        none): the reports take the conversations from them."""
        run = self.config.pluginmanager.getplugin("trainloop-run")
        log = getattr(run, "log", None)
        return log if isinstance(log, EventLog) else None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.seen_any:
            return  # no marked metric ran: nothing to write, no exit code to change
        now = results.utc_now()
        shard = self.settings.selection.shard
        # A shard decides no gate, not even not_empty on its share: the merge of the shards does.
        self.gates = gates = [] if shard else self.tally.gates(self.settings.fail_under)
        configuration = self._configuration()
        self.partial = self._partial(session, configuration)
        data = results.build(self.tally, gates, now, self.bad_lines, configuration, self.partial)
        if shard:  # the merge compares with a baseline, over every shard's cases
            t, s = self.tally, self.settings
            regression = shards.Regression(s.fail_on_regression, s.max_drop, s.alpha)
            data.update(
                shards.shard_fields(shard, t.empty_metrics, t.must_not_be_empty, regression)
            )
        elif self.settings.baseline is not None:
            self._compare(data)
        written = results.write(
            data,
            self.settings.local_folder / "results",
            now,
            self.settings.results_path,
            self.started,
        )
        self.results_path = written.path
        self.reports = write_reports(data, written.path, self.settings, self._events())
        if data["gates_held"] is False and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.baseline_error is not None:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
        if written.damaged_summary is not None:  # last: under -W error it raises, nothing lost
            path = self.settings.local_folder / "results" / results.SUMMARY_NAME
            message = (
                f"{path} is damaged ({written.damaged_summary}); the trend was rebuilt from the "
                "run files and the summary rewritten"
            )
            # Attributed to the summary file, so that the warnings summary points at it.
            warnings.warn_explicit(TrainloopWarning(message), TrainloopWarning, str(path), 1)

    def _compare(self, data: dict[str, Any]) -> None:
        """The comparison with the baseline, and its gates, into the results `data`."""
        from pytest_trainloop import baseline
        from pytest_trainloop.compare import ResultsFileError

        s = self.settings
        assert s.baseline is not None
        try:
            self.compared = baseline.apply(
                data, s.baseline, s.alpha, s.fail_on_regression, s.max_drop
            )
        except ResultsFileError as exc:  # it was checked at start-up: changed during the run
            self.baseline_error = f"{s.baseline_source}: the baseline cannot be read now: {exc}"

    # --- terminal -----------------------------------------------------------------------------

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.seen_any:
            return
        # Imported here: the report package holds the HTML and Markdown views too.
        from pytest_trainloop.report.terminal import TITLE, terminal_lines

        left_because = self.partial if self.settings.results_path is None else []
        verbose = self.config.get_verbosity() >= 0
        lines = terminal_lines(
            self.tally,
            self.gates,
            len(self.bad_lines),
            self.results_path,
            left_because,
            verbose,
            self.compared,
            reports=self.reports,
        )
        terminalreporter.write_sep("=", TITLE)
        for line in lines:
            terminalreporter.write_line(line.text, **dict.fromkeys(line.markup, True))
        if self.baseline_error is not None:
            terminalreporter.write_line(f"ERROR: {self.baseline_error}", red=True, bold=True)
        if self.settings.selection.shard:
            terminalreporter.write_line(shards.note(self.settings.selection.shard), yellow=True)

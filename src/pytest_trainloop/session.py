"""The controller's side: fold every case's report, write the results, apply the gates, print.

Registered as a plugin object only in the process that aggregates (the pytest-xdist controller,
or the single process of a plain run); workers only attach outcomes to their reports.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest

from pytest_trainloop import results
from pytest_trainloop.outcomes import broken_reason, from_properties
from pytest_trainloop.settings import Settings
from pytest_trainloop.suites import TrainloopWarning
from pytest_trainloop.summary import Case, Gate, Tally, merge_usage

_REASONS_SHOWN = 3


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


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
        self._case_counts: dict[str, int] | None = None  # as a process collected them
        self._stopped: str | None = None  # the message of the interrupt that stopped the run
        self.gates: list[Gate] = []  # decided once at the end of the run, then printed
        # nodeid -> (suite, metric, event ids, events) of cases whose setup reported, so that a
        # crash can be attributed: the ids space-separated (a batch-mode test's from its worker)
        self._started: dict[str, tuple[str, str, str, int]] = {}
        self._counted: set[str] = set()

    # --- folding ------------------------------------------------------------------------------

    def _announcements(self, props: dict[str, object]) -> None:
        """Run-wide facts a worker attaches to its first report (bad lines, suite details)."""
        bad = props.get("bad_lines")
        if isinstance(bad, list):  # every process announces the same facts: any one will do
            self.bad_lines = [str(line) for line in bad]
            self.tally.left_out_total = _int(props.get("left_out_errors"))
            counts = props.get("cases")
            if isinstance(counts, dict):
                self._case_counts = {k: _int(counts.get(k)) for k in ("selected", "collected")}
        info = props.get("suite_info")
        suite = props.get("suite")
        if isinstance(info, dict) and isinstance(suite, str):
            self.tally.suite_tags[suite] = list(info.get("tags", []))
            self.tally.left_out_errors[suite] = _int(info.get("left_out_errors"))

    def _count(self, nodeid: str, case: Case) -> None:
        if nodeid in self._counted:
            return
        self._counted.add(nodeid)
        self.tally.add(case)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = from_properties(report.user_properties)
        if not props:
            if report.when not in ("setup", "call", "teardown") and report.failed:
                self._crashed(report)
            return
        self.seen_any = True
        self._announcements(props)
        suite, metric = str(props["suite"]), str(props["metric"])
        event_id = str(props.get("event", ""))
        events = _int(props.get("batch_size")) or 1
        tally = self.tally.metric(suite, metric) if "empty" not in props else None
        if tally is not None:
            tally.min_score = props.get("min_score")  # type: ignore[assignment]
            tally.threshold = props.get("threshold")  # type: ignore[assignment]
        if report.when == "setup":
            if "empty" in props:
                self.tally.empty_suites[suite] = str(props["empty"])
                if props.get("empty_fails"):
                    self.tally.must_not_be_empty[(suite, metric)] = str(props["empty"])
            elif "batch_results" in props:  # a batch's fixture broke: an error per event
                self._fold_batch(report, suite, metric, props)
            elif report.failed:  # a fixture of the metric broke: the case is an error
                case = Case(suite, metric, event_id, "error", broken_reason(report))
                self._count(report.nodeid, case)
            else:
                ids = _text(props.get("batch_events")) or event_id
                self._started[report.nodeid] = (suite, metric, ids, events)
        elif report.when == "call" and "batch_results" in props:
            self._started.pop(report.nodeid, None)
            self._fold_batch(report, suite, metric, props)
        elif report.when == "call" and "verdict" in props:
            self._started.pop(report.nodeid, None)
            score, usage, votes = (props.get(k) for k in ("score", "judge_usage", "judge_votes"))
            case = Case(  # from values a report carried: each checked for type
                suite,
                metric,
                event_id,
                str(props["verdict"]),
                _text(props.get("reason")),
                score if isinstance(score, float) else None,
                _text(props.get("input")),
                _text(props.get("output")),
                judge_usage=usage if isinstance(usage, dict) else None,
                judge_votes=votes if isinstance(votes, list) else None,
            )
            self._count(report.nodeid, case)

    def _fold_batch(
        self, report: pytest.TestReport, suite: str, metric: str, props: dict[str, object]
    ) -> None:
        """A batch-mode test's report: one case per event it evaluated."""
        results = props["batch_results"]
        if isinstance(results, str):  # from a worker, which sends its rows as one JSON string
            results = orjson.loads(results)
        if report.nodeid in self._counted or not isinstance(results, list):
            return  # one report per batch test: no need to mark each of its events counted
        self._counted.add(report.nodeid)
        tally = self.tally.metric(suite, metric)
        # Rows are made by our own `_run_batch`, in `count`'s order: folded without a `Case`
        # each, which cost a third of a 100k-event batch run.
        for row in results:
            tally.count(*row)
        usage = props.get("judge_usage")
        if isinstance(usage, dict):
            merge_usage(tally.judge_usage, usage)

    def _crashed(self, report: pytest.TestReport) -> None:
        """A report made up by pytest-xdist for a case whose worker died."""
        started = self._started.get(report.nodeid)
        if started is not None:  # one error per event it held
            suite, metric, ids, events = started
            reason = "the worker running this case crashed"
            event_ids = ids.split(" ") if ids else [""] * events
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
            "shard": None,
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
        counts = self._case_counts or {}
        selected, collected = counts.get("selected", 0), counts.get("collected", 0)
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
        return reasons

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.seen_any:
            return  # no marked metric ran: nothing to write, no exit code to change
        now = results.utc_now()
        self.gates = gates = self.tally.gates(self.settings.fail_under)
        configuration = self._configuration()
        self.partial = self._partial(session, configuration)
        data = results.build(self.tally, gates, now, self.bad_lines, configuration, self.partial)
        written = results.write(
            data,
            self.settings.local_folder / "results",
            now,
            self.settings.results_path,
            self.started,
        )
        self.results_path = written.path
        if not all(g.held for g in gates) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if written.damaged_summary is not None:  # last: under -W error it raises, nothing lost
            path = self.settings.local_folder / "results" / results.SUMMARY_NAME
            message = (
                f"{path} is damaged ({written.damaged_summary}); the trend was rebuilt from the "
                "run files and the summary rewritten"
            )
            # Attributed to the summary file, so that the warnings summary points at it.
            warnings.warn_explicit(TrainloopWarning(message), TrainloopWarning, str(path), 1)

    # --- terminal -----------------------------------------------------------------------------

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.seen_any:
            return
        tr = terminalreporter
        verbose = self.config.get_verbosity() >= 0
        tr.write_sep("=", "trainloop")
        gates = {(g.suite, g.metric): g for g in self.gates}
        rows = [("suite", "metric", "passed/total", "score", "gate", "")]
        for suite, tallies in self.tally.suites().items():
            for t in tallies:
                gate = gates.get((suite, t.metric))
                rows.append(
                    (
                        suite,
                        t.metric,
                        f"{t.passed}/{t.total}" + (f" ({t.errors} errors)" if t.errors else ""),
                        "-" if t.score is None else f"{t.score:.3f}",
                        "" if gate is None else f">= {gate.bound:g}",
                        "" if gate is None else ("held" if gate.held else "NOT MET"),
                    )
                )
        widths = [max(len(row[i]) for row in rows) for i in range(6)]
        for row in rows:
            tr.write_line(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
        for suite, reason in sorted(self.tally.empty_suites.items()):
            tr.write_line(f"{suite}: skipped, {reason}")
        passed, failed, errors = self.tally.totals()
        overall = self.tally.overall_score()
        total = passed + failed + errors
        tr.write_line(
            f"overall: {passed}/{total} passed"
            + ("" if overall is None else f", score {overall:.3f}")
            + (f", {errors} errors" if errors else "")
            + (
                f" ({self.tally.unattributed_errors} unattributed)"
                if self.tally.unattributed_errors
                else ""
            )
        )
        reasons = [  # sorted throughout, so that the same run prints the same lines
            f"  {t.suite}/{t.metric}: {count}x {reason}"
            for _, t in sorted(self.tally.metrics.items())
            for reason, count in sorted(t.reasons.items(), key=lambda rc: (-rc[1], rc[0]))[
                :_REASONS_SHOWN
            ]
        ]
        if verbose and reasons:
            tr.write_line("most common reasons for failures and errors:")
            for line in reasons:
                tr.write_line(line)
        left_out = self.tally.left_out_total
        if left_out and verbose:
            tr.write_line(f"failed calls left out (output null): {left_out}")
        if self.bad_lines:
            tr.write_line(
                f"bad event lines: {len(self.bad_lines)} (listed in the results file)", yellow=True
            )
        judged = self.tally.judge_usage()
        if judged:
            sums = {
                k: sum(u.get(k, 0) for u in judged.values())
                for k in ("calls", "cache_hits", "prompt_tokens", "completion_tokens")
            }
            tr.write_line(
                f"judge: {sums['calls']} calls, {sums['cache_hits']} cache hits, "
                f"{sums['prompt_tokens']} prompt + {sums['completion_tokens']} "
                f"completion tokens ({', '.join(sorted(judged))})"
            )
        if self.results_path is not None:
            tr.write_line(f"results: {self.results_path}")
            if self.partial and self.settings.results_path is None:
                tr.write_line(
                    f"trainloop: {results.SUMMARY_NAME} left as it was: a partial run "
                    f"({'; '.join(self.partial)})",
                    yellow=True,
                )
        for gate in self.gates:
            if gate.name == "not_empty" and not gate.held:
                why = self.tally.must_not_be_empty[(str(gate.suite), str(gate.metric))]
                tr.write_line(
                    f"trainloop: {gate.label}: {why}; allow_empty=True on its marker accepts that",
                    red=True,
                    bold=True,
                )
            elif not gate.held:
                tr.write_line(
                    f"trainloop gate not met: {gate.label}: score {gate.score:.3f} "
                    f"< {gate.bound:g}",
                    red=True,
                    bold=True,
                )

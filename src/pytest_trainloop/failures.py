"""pytest's FAILURES section when many trainloop cases fail: the first few in full, then a count.

pytest prints every failed test in full at the end of a run, and for each one looks up its
teardown reports by scanning every report of the session (pytest-dev/pytest#13360): failures x
reports. A run of 10k events with 15% of its cases failing, no gate, took 3.8x an all-passing
run, most of it there. Failing cases are ordinary in an eval, and each one's report is its
verdict's reason, a line: the short test summary (`-rf`, on by default) lists each again, the
trainloop section counts them by reason, the results file keeps each one's reason. So the
section shows the first `SHOWN` failing cases in full and says how many more there are; `-vv`
shows them all, as does a run with no more than `SHOWN`.

Only that section's list is narrowed, and only while pytest prints it: pytest's counts, the
short test summary, the exit code, JUnit XML and every other plugin see every report. Tests that
are not trainloop cases are all printed, as without the plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

from pytest_trainloop.records import PREFIX

SHOWN = 20  # failing trainloop tests printed in full in pytest's FAILURES section

_METHOD = "summary_failures"  # TerminalReporter's method that prints the section


def _is_case(report: Any) -> bool:
    """A report of a trainloop test: its properties carry our records (the first one does)."""
    return any(
        isinstance(name, str) and name.startswith(PREFIX)
        for name, _ in getattr(report, "user_properties", ())
    )


class FailuresShown:
    """Registered in the aggregating process of a --trainloop run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    # Outermost (tryfirst among wrappers): in place before pytest's own terminal summary prints
    # its sections, taken away after all of them.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None, None, None]:
        original = getattr(terminalreporter, _METHOD, None)
        if original is None or self.config.get_verbosity() >= 2:
            return (yield)

        def summary_failures() -> None:
            self._summary_failures(terminalreporter, original)

        setattr(terminalreporter, _METHOD, summary_failures)  # this instance only, for now
        try:
            return (yield)
        finally:
            if vars(terminalreporter).get(_METHOD) is summary_failures:
                delattr(terminalreporter, _METHOD)

    def _summary_failures(self, reporter: Any, original: Callable[[], None]) -> None:
        stats: dict[str, list[Any]] = reporter.stats
        failed = stats.get("failed")
        if not failed or self.config.getoption("tbstyle", "auto") == "no":
            original()
            return
        kept: list[Any] = []
        cases = 0
        for report in failed:  # in pytest's order; every other test's report stays
            if not _is_case(report):
                kept.append(report)
            elif cases < SHOWN:
                kept.append(report)
                cases += 1
            else:
                cases += 1
        left = cases - SHOWN
        if left <= 0:
            original()
            return
        stats["failed"] = kept
        try:
            original()
        finally:
            stats["failed"] = failed
        reporter.write_sep("_", f"{left} more failing trainloop cases", red=True, bold=True)
        reporter.write_line(
            f"The first {SHOWN} of {cases} failing trainloop cases are shown in full above; "
            "-vv shows them all."
        )
        where = "The short test summary below lists" if reporter.hasopt("f") else "-rf lists"
        reporter.write_line(f"{where} each one; the trainloop section counts them by reason.")

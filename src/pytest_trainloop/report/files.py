"""The report files of a run: its HTML page, its Markdown summary, GitHub's job summary.

ReportFile once, by the process that aggregates (a plain run, or the xdist controller), at the end
of the run and after its results file: from the results data just built, the run's events (for
the conversations) and the earlier complete runs of the results folder (for the chart). No
pytest here; the session makes one call and prints what it returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pytest_trainloop.atomic import write_atomically
from pytest_trainloop.events import EventLog, EventsNotFoundError, read_events
from pytest_trainloop.report.history import gather_history
from pytest_trainloop.settings import Settings

__all__ = ["STEP_SUMMARY_ENV", "ReportFile", "write_reports"]

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"  # GitHub Actions' job-summary file, appended to


class ReportFile(NamedTuple):
    """One report file: what it is, where, and why it could not be written (None: it was)."""

    label: str  # "html report", "markdown", "step summary": the terminal's words
    path: Path
    error: str | None = None


def _html(
    results: Mapping[str, Any], settings: Settings, results_file: Path, log: EventLog | None
) -> str:
    """The page. An xdist controller read no events: they are read here, for the page alone,
    and closed after; a data folder that is gone leaves the page without conversations."""
    # Imported when asked for, as the Markdown's renderer: most runs write neither.
    from pytest_trainloop.report.html import render_html

    own = None
    if log is None:
        try:
            log = own = read_events(settings.data_folder)
        except EventsNotFoundError:
            log = None
    try:
        events = None if log is None else {event.id: event for event in log.events}
        history = gather_history(settings.local_folder / "results", exclude=results_file.name)
        return render_html(results, events=events, history=history)
    finally:
        if own is not None:
            own.close()


def _why(exc: OSError) -> str:
    """An OS error in a few words, naming the file in the way (a folder that is a file)."""
    return f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)


def _write(label: str, path: Path, text: str) -> ReportFile:
    try:
        return ReportFile(label, write_atomically(path, text.encode("utf-8")))
    except OSError as exc:  # the results are written already: say so, lose nothing else
        return ReportFile(label, path, _why(exc))


def _append(path: Path, text: str) -> ReportFile:
    """GitHub's job summary collects every step's Markdown: append, never replace."""
    try:
        with path.open("a", encoding="utf-8") as out:
            # A blank line apart from what an earlier step wrote, or the heading would not start
            # a line of its own.
            out.write(f"\n{text}" if out.tell() else text)
        return ReportFile("step summary", path)
    except OSError as exc:
        return ReportFile("step summary", path, _why(exc))


def write_reports(
    results: Mapping[str, Any],
    results_file: Path,
    settings: Settings,
    log: EventLog | None,
    environ: Mapping[str, str] = os.environ,
) -> list[ReportFile]:
    """Write the reports the settings ask for; `log` is the run's events when this process read
    them (a plain run). Returns each report written, or not, in a fixed order."""
    written: list[ReportFile] = []
    if settings.html_path is not None:
        try:
            page = _html(results, settings, results_file, log)
        except OSError as exc:  # an event file that cannot be read again
            written.append(ReportFile("html report", settings.html_path, str(exc)))
        else:
            written.append(_write("html report", settings.html_path, page))
    step_summary = environ.get(STEP_SUMMARY_ENV) if settings.step_summary else None
    evaluated = bool((results.get("summary") or {}).get("total"))
    if settings.markdown_path is None and not (step_summary and evaluated):
        return written
    from pytest_trainloop.report.markdown import render_markdown

    markdown = render_markdown(results)
    if settings.markdown_path is not None:
        written.append(_write("markdown", settings.markdown_path, markdown))
    if step_summary and evaluated:
        written.append(_append(Path(step_summary), markdown))
    return written

"""Collecting metrics: which functions are metrics, how their declaration is checked, and what a
metric with nothing to evaluate is told. Used by the hooks in plugin.py and run.py.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, NoReturn

import pytest

from pytest_trainloop.events import EventLog
from pytest_trainloop.marker import EVENT_ARG, MARKER, MARKER_SIGNATURE, TrainloopWarning
from pytest_trainloop.settings import Settings
from pytest_trainloop.suites import Chosen, MarkerError, MetricSpec, parse_marker

_BAD_LINES_SHOWN = 20


def declared_spec(metafunc: pytest.Metafunc, mark: pytest.Mark) -> MetricSpec:
    """The metric's marker arguments, checked; a collection error saying what is wrong."""
    name = metafunc.function.__name__
    try:
        spec = parse_marker(mark, name)
    except MarkerError as exc:
        wrong = str(exc)  # reported outside the handler: not "during handling of" anything
    else:
        wrong = ""
    if wrong:
        bad_metric(
            metafunc, f"@pytest.mark.{MARKER} on {name}: {wrong}\nthe marker: {MARKER_SIGNATURE}"
        )
    if EVENT_ARG not in metafunc.fixturenames:
        bad_metric(
            metafunc,
            f"{name} is a {MARKER} metric: it must take an `event` argument, the recorded "
            f"event it evaluates (def {name}(event): ...)",
        )
    return spec


def location(metafunc: pytest.Metafunc) -> str:
    path, line, _ = metafunc.definition.location
    return path if line is None else f"{path}:{line + 1}"


def bad_metric(metafunc: pytest.Metafunc, message: str) -> NoReturn:
    """A mistake in how a metric is declared: one collection error that starts at its file:line
    and says what is wrong, without a traceback (the frames would be pytest's and ours)."""
    pytest.fail(f"{location(metafunc)}: {message}", pytrace=False)


def argnames(function: Any) -> tuple[str, ...]:
    """The arguments pytest fills for a function: those without a default (as pytest does)."""
    parameters = inspect.signature(function).parameters.values()
    names = [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty
    ]
    return tuple(names[1:] if names and names[0] == "self" else names)


def nothing_to_evaluate(settings: Settings, spec: MetricSpec, chosen: Chosen) -> tuple[str, bool]:
    """Why a metric has no case, and whether that fails the run.

    An evaluation of nothing is no green build: a suite whose tags select no event fails the
    run (a typo, a renamed tag), and so does a gated metric that the run's own narrowing
    (--trainloop-since, ...) left with nothing, unless the marker says allow_empty=True.
    """
    tags = f"tags [{', '.join(settings.selection.tags or spec.tags)}] (match={spec.match})"
    folder = settings.events_folder_shown
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


def report_bad_lines(log: EventLog, strict: bool) -> None:
    """Bad lines in the events: a warning, or with --trainloop-strict a usage error."""
    events = log.events_folder
    # Each by `file:line: reason`: a bad line's bytes are never shown, for they may be
    # megabytes of prompt text, secrets included.
    shown = "\n".join(f"  {bad}" for bad in log.bad_lines[:_BAD_LINES_SHOWN])
    more = len(log.bad_lines) - _BAD_LINES_SHOWN
    if strict:
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

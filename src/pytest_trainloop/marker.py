"""The trainloop_suite marker's name and help, which collected functions are metrics, and the
plugin's warning class.

Imported by every pytest run where the plugin is installed (its collection hook asks
`is_metric` of every function and class), so it imports nothing but pytest and the standard
library; the marker's arguments are checked in suites.py, loaded when a metric is collected.
"""

from __future__ import annotations

import inspect

import pytest

EVENT_ARG = "event"  # the argument a metric takes its event in
MARKER = "trainloop_suite"
MARKER_SIGNATURE = (
    "trainloop_suite(name, *, tags, match='any', threshold=0.5, min_score=None, "
    "include_errors=False, allow_empty=False, max_drop=None)"
)
MARKER_HELP = (
    f"{MARKER_SIGNATURE}: a metric evaluated on each recorded event with one of the tags "
    "(run with --trainloop; a suite that selects no event fails the run unless allow_empty=True)"
)


def takes_event(function: object) -> bool:
    try:
        return EVENT_ARG in inspect.signature(function).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _has_marker(obj: object) -> bool:
    marks = getattr(obj, "pytestmark", [])
    marks = marks if isinstance(marks, list) else [marks]
    return any(getattr(mark, "name", None) == MARKER for mark in marks)


def is_metric(collector: pytest.Module | pytest.Class, name: str, obj: object) -> bool:
    """A marked function (or class), or a function taking `event` in a marked class or module,
    whatever its name."""
    if not (inspect.isfunction(obj) or inspect.isclass(obj)) or name.startswith("_"):
        return False
    return _has_marker(obj) or (
        inspect.isfunction(obj)
        and any(
            _has_marker(node.obj)
            for node in collector.listchain()
            if isinstance(node, pytest.Module | pytest.Class)
        )
        and takes_event(obj)  # last: reading a signature is the costly check
    )


class TrainloopWarning(pytest.PytestWarning):
    """Warnings of pytest-trainloop (bad event lines, ...); filter them by this class.

    Here, with what every run imports, so that the class a `-W` filter names is the one raised
    whichever modules a run loaded (pytester's in-process runs drop what each run imported,
    while pytest keeps the filters it parsed).
    """

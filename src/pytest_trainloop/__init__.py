"""pytest-trainloop: evaluate recorded LLM interactions with ordinary pytest tests."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_trainloop.events import (
        BadLine,
        Event,
        EventLog,
        EventsNotFoundError,
        EventsUnreachableError,
        Source,
        Usage,
        read_events,
        validate_event,
    )
    from pytest_trainloop.marker import TrainloopWarning
    from pytest_trainloop.outcomes import Verdict

# Imported when first asked for: `TrainloopWarning` needs pytest, and the console script (which
# imports this package on its way to pytest_trainloop.cli) must start without it.
_HOMES = {
    "BadLine": "events",
    "Event": "events",
    "EventLog": "events",
    "EventsNotFoundError": "events",
    "EventsUnreachableError": "events",
    "Source": "events",
    "Usage": "events",
    "read_events": "events",
    "validate_event": "events",
    "Verdict": "outcomes",
    "TrainloopWarning": "marker",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Not kept in this module's globals: pytester's in-process runs drop the modules a run
    # imported, and a kept class would then be another than the one the next run checks against.
    return getattr(importlib.import_module(f"pytest_trainloop.{home}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__all__ = [
    "BadLine",
    "Event",
    "EventLog",
    "EventsNotFoundError",
    "EventsUnreachableError",
    "Source",
    "TrainloopWarning",
    "Usage",
    "Verdict",
    "read_events",
    "validate_event",
]

"""pytest-trainloop: evaluate recorded LLM interactions with ordinary pytest tests."""

from __future__ import annotations

import importlib
from collections.abc import Callable
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


def lazy_names(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A package's module `__getattr__`: each name in `homes` from its submodule, imported when
    the name is first asked for (this package's and `report`'s)."""

    def get(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # Not kept in the package's globals: pytester's in-process runs drop the modules a run
        # imported, and a kept class would then be another than the one the next run checks.
        return getattr(importlib.import_module(f"{package}.{home}"), name)

    return get


__getattr__ = lazy_names(__name__, _HOMES)


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

"""pytest-trainloop: evaluate recorded LLM interactions with ordinary pytest tests."""

from pytest_trainloop.events import (
    BadLine,
    Event,
    EventLog,
    EventsNotFoundError,
    Source,
    Usage,
    read_events,
    validate_event,
)
from pytest_trainloop.outcomes import Verdict
from pytest_trainloop.suites import TrainloopWarning

__all__ = [
    "BadLine",
    "Event",
    "EventLog",
    "EventsNotFoundError",
    "Source",
    "TrainloopWarning",
    "Usage",
    "Verdict",
    "read_events",
    "validate_event",
]

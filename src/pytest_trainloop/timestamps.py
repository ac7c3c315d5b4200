"""Reading ISO 8601 timestamps, the one way both the options and the event files need.

Pure and at the bottom: imports nothing of ours, and no pytest.
"""

from __future__ import annotations

from datetime import datetime, timezone


def parse_iso_timestamp(text: str) -> datetime:
    """The aware datetime an ISO 8601 date or timestamp names; `ValueError` if it names none.

    A trailing `Z` (or `z`) means UTC: `datetime.fromisoformat` accepts it only from Python
    3.11. A date or timestamp without an offset is taken as UTC, as the SDKs record UTC and a
    `--trainloop-since 2024-01-15` means midnight UTC. The text is taken as given: a caller
    that reads it from a person strips the spaces first.
    """
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def event_timestamp(text: str) -> datetime:
    """The aware datetime of an event's `timestamp`: RFC 3339 read as msgspec reads it (the
    reader's gate decodes it so, in C), else any ISO 8601 form `parse_iso_timestamp` reads;
    `ValueError` if it names none. One rule for both ways a line is read: they differ on more
    than 6 fractional digits (msgspec rounds them, `fromisoformat` cuts them)."""
    import msgspec  # here: the options read timestamps too, and need no msgspec

    try:
        parsed = msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        return parse_iso_timestamp(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)

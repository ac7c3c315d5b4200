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
    try:
        parsed = datetime.fromisoformat(text)  # from 3.11 a trailing `Z` too: the usual case
    except ValueError:
        if text[-1:] not in ("Z", "z"):
            raise
        parsed = datetime.fromisoformat(text[:-1] + "+00:00")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)

"""Checking a parsed event line in either shape, naming every problem: what the reader asks of
a line the fast gate (`gate.py`) refused, and what `validate_event` offers users.

Each check appends its problems to a list, each naming the field and what it should hold, and
the line's `EventKey` (what the reader keeps of it) comes out of the same pass.

Above `event` (for the token names), below the reader; no pytest.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pytest_trainloop.event import TOKEN_NAMES
from pytest_trainloop.timestamps import parse_iso_timestamp

# pytest leaves this module's frames out of a failing metric's traceback, as it does the
# event's own (`validate_event` may be called from a metric).
__tracebackhide__ = True


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    names = {dict: "object", list: "array", str: "string", bool: "boolean", float: "number"}
    return names.get(type(value), type(value).__name__)


_NULL: type = type(None)
_MESSAGE_CONTENT = frozenset({str, list, _NULL})
_STR: tuple[frozenset[type], str] = (frozenset({str, _NULL}), "a string")
_NUMBER: tuple[frozenset[type], str] = (frozenset({int, float, _NULL}), "a number")
_OBJECT: tuple[frozenset[type], str] = (frozenset({dict, _NULL}), "an object")
_INT: tuple[frozenset[type], str] = (frozenset({int, _NULL}), "an integer")
# Known fields and the JSON types each may hold; fields not listed are free.
_FieldTypes = dict[str, tuple[frozenset[type], str]]
_OUTPUT: _FieldTypes = {
    "content": (frozenset({str, list, _NULL}), "a string"),
    "role": _STR,
    "finish_reason": _STR,
    "stop_reason": _STR,
    "tool_calls": (frozenset({list, _NULL}), "an array"),
    "usage": _OBJECT,
}
_USAGE: _FieldTypes = {name: _INT for names in TOKEN_NAMES for name in names}
_INPUT: _FieldTypes = {"model": _STR}
_METADATA: _FieldTypes = {
    "provider": _STR,
    "model": _STR,
    "duration_ms": _NUMBER,
    "request_id": _STR,
    "error": (frozenset({str, dict, _NULL}), "a string or an object"),
}
_FLAT: _FieldTypes = {
    "tag": _STR,
    "model": _STR,
    "url": _STR,
    "modelParams": _OBJECT,
    "location": _OBJECT,
    "durationMs": _NUMBER,
    "startTimeMs": _NUMBER,
    "endTimeMs": _NUMBER,
}


def _check_fields(obj: dict[str, Any], known: _FieldTypes, where: str, errors: list[str]) -> None:
    # One pass over the object's items: cheaper than a lookup per known field on the hot path.
    for key, value in obj.items():
        allowed = known.get(key)
        if allowed is not None and type(value) not in allowed[0]:
            got = _type_name(value)
            # orjson reads an integer beyond 64 bits as a float: say so, not "got number".
            if allowed is _INT and type(value) is float and abs(value) >= 2**63:
                got = "one out of range (beyond 64 bits)"
            errors.append(f"{where}{key}: expected {allowed[1]}, got {got}")


def _check_messages(messages: object, where: str, errors: list[str]) -> None:
    if type(messages) is not list:
        errors.append(f"{where}: expected an array of messages, got {_type_name(messages)}")
        return
    for i, message in enumerate(messages):
        if type(message) is not dict:
            errors.append(f"{where}[{i}]: expected a message object, got {_type_name(message)}")
        elif type(message.get("role")) is not str:
            errors.append(f"{where}[{i}].role: expected a string")
        elif type(message.get("content")) not in _MESSAGE_CONTENT:
            got = _type_name(message["content"])
            errors.append(f"{where}[{i}].content: expected a string, parts or null, got {got}")


def _check_output(output: object, errors: list[str]) -> None:
    if output is None:
        return
    if type(output) is not dict:
        errors.append(f"output: expected an object or null, got {_type_name(output)}")
        return
    _check_fields(output, _OUTPUT, "output.", errors)
    usage = output.get("usage")
    if type(usage) is dict:
        _check_fields(usage, _USAGE, "output.usage.", errors)


def timestamp_from_text(value: object, errors: list[str]) -> datetime | None:
    """The datetime of an event's `timestamp`; None if it has none or, with the problem in
    `errors`, if it holds no ISO 8601 string."""
    if value is None:
        return None
    if type(value) is str:
        try:
            return parse_iso_timestamp(value)
        except ValueError:
            pass
    errors.append(f"timestamp: expected an ISO 8601 string, got {value!r:.60}")
    return None


def timestamp_from_ms(ms: float, errors: list[str]) -> datetime | None:
    """The datetime of a flat event's `startTimeMs`; None, with the problem in `errors`, if it
    lies beyond the dates Python knows."""
    try:
        return datetime.fromtimestamp(ms / 1000, timezone.utc)
    except (ValueError, OverflowError, OSError):
        errors.append(f"startTimeMs: expected milliseconds since 1970, got {ms!r:.30}")
        return None


def _check_tags(value: object, where: str, errors: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if type(value) is list and all(type(tag) is str for tag in value):
        return tuple(value)
    errors.append(f"{where}: expected an array of strings, got {_type_name(value)}")
    return ()


# What reading needs from a checked line to make its `Event`: request_id, tags, timestamp and
# whether the call succeeded. A plain tuple: building a NamedTuple costs 0.4 µs a line.
EventKey = tuple[str | None, tuple[str, ...], datetime | None, bool]


def _check_documented(obj: dict[str, Any], errors: list[str]) -> EventKey:
    inp = obj["input"]
    if type(inp) is dict:
        _check_messages(inp.get("messages"), "input.messages", errors)
        _check_fields(inp, _INPUT, "input.", errors)
    else:
        errors.append(f"input: expected an object, got {_type_name(inp)}")
    _check_output(obj["output"], errors)
    metadata = obj.get("metadata")
    if type(metadata) is dict:
        _check_fields(metadata, _METADATA, "metadata.", errors)
    else:
        if metadata is not None:
            errors.append(f"metadata: expected an object, got {_type_name(metadata)}")
        metadata = {}
    request_id = metadata.get("request_id")
    return (
        request_id if type(request_id) is str else None,
        _check_tags(metadata.get("tags"), "metadata.tags", errors),
        timestamp_from_text(obj.get("timestamp"), errors),
        obj["output"] is not None,
    )


def _check_flat(obj: dict[str, Any], errors: list[str]) -> EventKey:
    _check_messages(obj["input"], "input", errors)
    _check_output(obj["output"], errors)
    _check_fields(obj, _FLAT, "", errors)
    tag, start = obj.get("tag"), obj.get("startTimeMs")
    timestamp = None
    if isinstance(start, int | float) and not isinstance(start, bool):
        timestamp = timestamp_from_ms(start, errors)
    return (None, (tag,) if type(tag) is str and tag else (), timestamp, obj["output"] is not None)


def check_event(obj: object, errors: list[str]) -> EventKey | None:
    """Check one parsed line in either shape; every problem is appended to `errors`."""
    if type(obj) is not dict:
        errors.append(f"expected a JSON object, got {_type_name(obj)}")
        return None
    if "input" not in obj or "output" not in obj:
        errors.extend(f"{key}: missing" for key in ("input", "output") if key not in obj)
        return None
    if "tag" in obj or "durationMs" in obj or type(obj["input"]) is list:
        return _check_flat(obj, errors)
    return _check_documented(obj, errors)


def validate_event(obj: object) -> tuple[bool, list[str]]:
    """Check a parsed event in either shape; each error names the field and what was expected."""
    errors: list[str] = []
    check_event(obj, errors)
    return not errors, errors

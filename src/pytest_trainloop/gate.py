"""The fast gate of the event reader: most lines are checked here, in C, while decoded.

Checking a parsed dict field by field in Python cost as much as parsing it. These structs let
msgspec check the common case while it decodes, building only the checked fields. The gate is
stricter than `validation.check_event`, never looser: whatever it refuses (an odd shape, a big
integer, a field of another shape, an unusual timestamp) goes the slow way, through orjson and
`check_event`, which alone decides what is wrong and says so. tests/test_events.py holds the
two to that.

A module of its own, imported when events are first read: loading msgspec and building the
decoder costs about 20 ms, which a run without --trainloop should not pay. Above `validation`,
whose key and timestamp readings it shares; below the reader.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

import msgspec

from pytest_trainloop.validation import EventKey, timestamp_from_ms

# Within orjson's range of ints (it reads wider ones as floats, which int fields refuse).
_JsonInt = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]

# A message's or output's content is kept raw, unbuilt (building every message's text as a str
# was half of the gate's time), and checked by its first byte: a string, parts or null, as
# `check_event` allows. msgspec has checked the JSON itself, escapes included, but not UTF-8 in
# what it leaves unbuilt: `gate` checks the whole line's.
_NULL = msgspec.Raw(b"null")
_CONTENT_STARTS = frozenset(b'"[n')


class _GateMessage(msgspec.Struct):
    role: str
    content: msgspec.Raw = _NULL


class _GateUsage(msgspec.Struct):
    prompt_tokens: _JsonInt | None = None
    completion_tokens: _JsonInt | None = None
    total_tokens: _JsonInt | None = None
    input_tokens: _JsonInt | None = None
    output_tokens: _JsonInt | None = None


class _GateOutput(msgspec.Struct):
    content: msgspec.Raw = _NULL
    role: str | None = None
    finish_reason: str | None = None
    stop_reason: str | None = None
    tool_calls: list[Any] | None = None
    usage: _GateUsage | None = None


class _GateInput(msgspec.Struct):
    messages: list[_GateMessage]
    model: str | None = None


class _GateMetadata(msgspec.Struct):
    provider: str | None = None
    model: str | None = None
    duration_ms: int | float | None = None
    request_id: str | None = None
    error: str | dict[str, Any] | None = None
    tags: tuple[str, ...] | None = None


class _GateLine(msgspec.Struct):
    """Both shapes at once; which one a line is in is decided after decoding, as `check_event`
    decides it."""

    input: _GateInput | list[_GateMessage]
    output: _GateOutput | None
    metadata: _GateMetadata | None = None
    timestamp: datetime | None = None  # RFC 3339, read in C; other forms go the slow way
    tag: str | msgspec.UnsetType | None = msgspec.UNSET
    durationMs: int | float | msgspec.UnsetType | None = msgspec.UNSET
    model: str | None = None
    url: str | None = None
    modelParams: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    startTimeMs: int | float | None = None
    endTimeMs: int | float | None = None


_GATE = msgspec.json.Decoder(_GateLine)


def gate(line: bytes) -> EventKey | None:
    """The line's key when the gate passes it; None sends it the slow way."""
    if not line.isascii():
        try:  # orjson, which parses the line again for the metrics, refuses bad UTF-8 anywhere
            line.decode()
        except UnicodeDecodeError:
            return None
    try:
        gated = _GATE.decode(line)
    except (msgspec.MsgspecError, ValueError, RecursionError):  # ValueError: bad UTF-8
        return None
    inp, output = gated.input, gated.output
    flat = type(inp) is list
    for message in inp if flat else inp.messages:  # type: ignore[union-attr]
        if memoryview(message.content)[0] not in _CONTENT_STARTS:
            return None
    if output is not None and memoryview(output.content)[0] not in _CONTENT_STARTS:
        return None
    if gated.tag is not msgspec.UNSET or gated.durationMs is not msgspec.UNSET or flat:
        if not flat:  # a flat line's input must be its messages
            return None
        tag, start = gated.tag, gated.startTimeMs
        errors: list[str] = []
        timestamp = None if start is None else timestamp_from_ms(start, errors)
        if errors:
            return None
        return (None, (tag,) if type(tag) is str and tag else (), timestamp, output is not None)
    timestamp = gated.timestamp
    if timestamp is not None and timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=timezone.utc)  # as `event_timestamp` reads it
    metadata = gated.metadata
    if metadata is None:
        return (None, (), timestamp, output is not None)
    return (metadata.request_id, metadata.tags or (), timestamp, output is not None)

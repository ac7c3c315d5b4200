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

from typing import Annotated, Any

import msgspec

from pytest_trainloop.validation import EventKey, timestamp_from_ms, timestamp_from_text

# Within orjson's range of ints (it reads wider ones as floats, which int fields refuse).
_JsonInt = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]

# A message's or output's content is kept raw, unbuilt (building every message's text as a str
# was half of the gate's time), and checked by its first byte: a string or null, as
# `check_event` allows; or parts, which are decoded (numbers past a double's range, which
# orjson refuses, are found only so). msgspec has checked the JSON itself, escapes included,
# but not UTF-8 in what it leaves unbuilt: `gate` checks the whole line's.
_NULL = msgspec.Raw(b"null")
_TEXT_STARTS = frozenset(b'"n')
_PARTS_START = ord("[")
_PARTS = msgspec.json.Decoder(list[Any])


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
    timestamp: str | None = None
    tag: str | msgspec.UnsetType | None = msgspec.UNSET
    durationMs: int | float | msgspec.UnsetType | None = msgspec.UNSET
    model: str | None = None
    url: str | None = None
    modelParams: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    startTimeMs: int | float | None = None
    endTimeMs: int | float | None = None


_GATE = msgspec.json.Decoder(_GateLine)


def _parts_pass(content: msgspec.Raw) -> bool:
    """Whether a content that is neither a string nor null is parts that orjson reads."""
    if memoryview(content)[0] != _PARTS_START:
        return False
    try:
        _PARTS.decode(content)
    except msgspec.MsgspecError:
        return False
    return True


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
        content = message.content
        if memoryview(content)[0] not in _TEXT_STARTS and not _parts_pass(content):
            return None
    if output is not None:
        content = output.content
        if memoryview(content)[0] not in _TEXT_STARTS and not _parts_pass(content):
            return None
    errors: list[str] = []
    if gated.tag is not msgspec.UNSET or gated.durationMs is not msgspec.UNSET or flat:
        if not flat:  # a flat line's input must be its messages
            return None
        tag, start = gated.tag, gated.startTimeMs
        timestamp = None if start is None else timestamp_from_ms(start, errors)
        if errors:
            return None
        return (None, (tag,) if type(tag) is str and tag else (), timestamp, output is not None)
    timestamp = timestamp_from_text(gated.timestamp, errors)
    if errors:
        return None
    metadata = gated.metadata
    if metadata is None:
        return (None, (), timestamp, output is not None)
    return (metadata.request_id, metadata.tags or (), timestamp, output is not None)

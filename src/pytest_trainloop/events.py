"""Recorded LLM events: read both shapes, check them, present them as one `Event`.

Two shapes reach us. The documented one (`timestamp`, `input{messages,...}`, `output{...}`,
`metadata{tags,...}`) and the flat one the TrainLoop SDKs write (`tag`, `durationMs`, `input`
as a messages list, `output{content}`, `model`, `modelParams`, `startTimeMs`, ...).

Reading is the hot path (hundreds of thousands of lines). Each line goes through the gate
(`gate.py`: msgspec checks it in C while decoding only the fields we check); a line the gate
refuses is parsed with orjson and checked by `_check`, the function `validate_event` uses, which
names every problem. An `Event` keeps where its line lies, not the line: the line is read and
parsed again when a metric asks for it, and its other attributes derive from that dict.
"""

from __future__ import annotations

import errno
import gc
import gzip
import hashlib
import os
import re
import stat
import threading
import zlib
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple
from zlib import crc32

import orjson

__all__ = [
    "BadLine",
    "Event",
    "EventLineError",
    "EventLog",
    "EventsNotFoundError",
    "Source",
    "Usage",
    "read_events",
    "validate_event",
]

# pytest leaves this module's frames out of a failing metric's traceback: an error met inside an
# event's attribute (a file cut during the run, say) is shown at the metric's own line, with
# its message; `--full-trace` shows them all.
__tracebackhide__ = True

_BOM = b"\xef\xbb\xbf"
_EVENT_FILE_NAMES = (".jsonl", ".jsonl.gz")
# A line's problems named in its reason: a line of 10,000 wrong messages needs no 10,000.
_PROBLEMS_NAMED = 5
# Characters that survive pytest's id escaping and `-k` expressions unchanged.
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")
_K_KEYWORDS = frozenset({"and", "or", "not", "True", "False", "None"})
# Anthropic's stop reasons in OpenAI's vocabulary, so one metric serves both providers.
_STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_PROVIDER_HOSTS = (
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("googleapis", "google"),
    ("mistral", "mistral"),
    ("groq", "groq"),
    ("cohere", "cohere"),
)
_TOKEN_NAMES = (
    ("prompt_tokens", "input_tokens"),
    ("completion_tokens", "output_tokens"),
    ("total_tokens", "total_tokens"),
)


class Source(NamedTuple):
    """Where an event or a bad line was recorded: file and 1-based line number (0 for what is
    wrong with a whole file or folder, such as a link that loops)."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


class Usage(NamedTuple):
    """Token counts under OpenAI's names, whatever the provider called them."""

    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that could not be read as an event, and why."""

    source: Source
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


def _text(content: object) -> str:
    """The text of a message's content: a string, or a list of parts (`{"type": "text", ...}`)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str) or (isinstance(part, dict) and part.get("type") == "text")
        )
    return ""


def _error_text(error: object) -> str | None:
    """A recorded error as one readable line (SDKs write a string or a `{type, message}` dict)."""
    if error is None or isinstance(error, str):
        return error
    if isinstance(error, dict):
        head = " ".join(str(error[k]) for k in ("type", "status_code") if error.get(k) is not None)
        message = str(error.get("message", ""))
        return f"{head}: {message}" if head and message else head or message
    return str(error)


def _provider_from_url(url: object) -> str | None:
    if not isinstance(url, str):
        return None
    host = url.split("//", 1)[-1].split("/", 1)[0].lower()
    return next((name for needle, name in _PROVIDER_HOSTS if needle in host), None)


class EventLineError(Exception):
    """An event's line could not be read or parsed again after the folder was first read."""


# Open descriptors of events files, oldest use first: bounded, so that a folder of thousands
# of files never runs the process out of descriptors (nor holds a read-ahead block for each).
_OPEN_FILES: dict[_EventFile, int] = {}
_OPEN_FILES_LOCK = threading.Lock()
_MAX_OPEN_FILES = 32
# Lines are read again in file order (a metric's cases, a chunk), so a block is read at once:
# one pread per line cost 2-3 µs, as much as half of parsing the line.
_READ_AHEAD = 256 * 1024
_NO_BLOCK = (0, b"")
_TAIL = 4096  # bytes at the end of what was read that an append must leave as they were


class _EventFile:
    """One events file as read: its name for messages and where each event's line lies in it.

    Events of a plain file keep only their line's offset and length (16 bytes) and read the line
    again when it is asked for: holding every line would cost a run the size of its files in
    memory. Lines of a `.gz` file cannot be reached by offset, so they are kept. A line read
    again comes from a block read ahead, which holds what the file said when it was read.

    A line read again must hold the bytes read at collection. The file may grow (appending is
    fine), but not be replaced, cut or rewritten: each block read again is checked against a
    fingerprint of the file taken at collection (see `_change`). A hash of every line would be
    exact, but cost 9-18% of reading time on 100k events (bench/read_events.py).
    """

    __slots__ = (
        "block",
        "changed",
        "identity",
        "kept",
        "lengths",
        "linenos",
        "offsets",
        "path",
        "seen",
        "shown",
        "size",
        "tail",
    )

    def __init__(self, path: Path, shown: str, keep_lines: bool) -> None:
        self.path = path
        self.shown = shown
        self.linenos = array("q")  # by event index within this file
        self.offsets = array("q")
        self.lengths = array("q")
        self.kept: list[bytes] | None = [] if keep_lines else None
        self.block = _NO_BLOCK  # (offset, bytes) read ahead from the file
        # The fingerprint: (device, inode), the bytes read, a CRC-32 of the last of them, and
        # the (size, mtime_ns) last found to hold them.
        self.identity = (0, 0)
        self.size = 0
        self.tail = 0
        self.seen = (0, 0)
        self.changed = ""  # how the file changed, once found: its lines are not read again

    def add(self, lineno: int, offset: int, line: bytes) -> int:
        """Note where an event's line is; returns the event's index within this file."""
        self.linenos.append(lineno)
        if self.kept is not None:
            self.kept.append(line)
        else:
            self.offsets.append(offset)
            self.lengths.append(len(line))
        return len(self.linenos) - 1

    def fingerprint(self, fd: int, size: int) -> None:
        """Take the file's fingerprint once its `size` bytes are read."""
        found = os.fstat(fd)
        self.identity, self.size = (found.st_dev, found.st_ino), size
        self.tail = self._tail_crc(fd)
        # Grown while it was read: its mtime says nothing of the bytes read, the tail will.
        self.seen = (size, found.st_mtime_ns if found.st_size == size else -1)

    def _tail_crc(self, fd: int) -> int:
        start = max(0, self.size - _TAIL)
        return crc32(os.pread(fd, self.size - start, start))

    def line(self, index: int) -> bytes:
        if self.kept is not None:
            return self.kept[index]
        offset, length = self.offsets[index], self.lengths[index]
        start, block = self.block
        at = offset - start
        if at < 0 or at + length > len(block):
            with _OPEN_FILES_LOCK:  # a metric's threads must not close a descriptor in use
                if not self.changed:
                    block = self._read_again(offset, max(length, _READ_AHEAD))
                    if len(block) < length and not self.changed:
                        self.changed = "cut short"
            if self.changed:
                raise EventLineError(
                    f"{self.shown}:{self.linenos[index]}: the file changed since collection "
                    f"({self.changed}): its events can no longer be read (events files may be "
                    "appended to during a run, not rewritten)"
                )
            self.block, at = (offset, block), 0
        return block[at : at + length]

    def _read_again(self, offset: int, size: int) -> bytes:
        """The file's bytes at `offset`, or b"" with `changed` set if the file changed."""
        fd = self._descriptor()
        if fd < 0:
            return b""
        block = os.pread(fd, size, offset)
        # Checked after the read: a change during it shows in the file's size or mtime.
        self.changed = self._change(fd)
        return block

    def _change(self, fd: int) -> str:
        """How the file changed since collection, "" if it did not (as far as a fingerprint can
        tell): cut below the bytes read; rewritten, as its mtime changed with its size the same,
        or as it grew and the last bytes read are no longer the same. An append leaves those.
        Missed: a rewrite that grew the file and left them, and one of the same size within the
        clock's step (a few ms) of the file's last write before collection."""
        found = os.fstat(fd)
        now = (found.st_size, found.st_mtime_ns)
        if now == self.seen:
            return ""
        if found.st_size < self.size:
            return "cut short"
        if found.st_size == self.size or self._tail_crc(fd) != self.tail:
            return "rewritten"
        self.seen = now
        return ""

    def _descriptor(self) -> int:
        fd = _OPEN_FILES.pop(self, None)  # put back below as the most recent
        if fd is None:
            if len(_OPEN_FILES) >= _MAX_OPEN_FILES:
                oldest = next(iter(_OPEN_FILES))
                os.close(_OPEN_FILES.pop(oldest))
                oldest.block = _NO_BLOCK
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except OSError as exc:
                raise EventLineError(f"{self.shown}: cannot open it again: {exc}") from None
            found = os.fstat(fd)
            if (found.st_dev, found.st_ino) != self.identity:
                os.close(fd)
                self.changed = "replaced by another file"
                return -1  # no descriptor: the file at this path is another one
        _OPEN_FILES[self] = fd
        return fd


@dataclass(frozen=True, slots=True, eq=False)
class Event:
    """One recorded LLM call, the same whichever shape it was written in.

    `raw` is the line as parsed. `input`, `output` and `metadata` are the recorded dicts; for
    the flat SDK shape they are its fields arranged in the documented shape.

    An event holds little: its id, tags, timestamp and where its line lies. The line is read
    and parsed again the first time `raw` (or anything derived from it) is asked for, so that
    reading 100k events builds no dicts that collection never looks at, and a run's memory
    does not grow with the size of its files.
    """

    id: str
    tags: tuple[str, ...]
    timestamp: datetime | None
    succeeded: bool  # the call returned an output (failed calls record output: null)
    _file: _EventFile = field(repr=False)
    _index: int = field(repr=False)
    _parsed: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def source(self) -> Source:
        """The file and line the event was read from."""
        return Source(self._file.shown, self._file.linenos[self._index])

    @property
    def line(self) -> bytes:
        """The line as recorded (read again from its file)."""
        return self._file.line(self._index)

    @property
    def raw(self) -> dict[str, Any]:
        """The line as parsed (parsed once, then kept until the plugin is done with it)."""
        parsed = self._parsed
        if parsed is None:
            try:
                parsed = orjson.loads(self.line)
            except orjson.JSONDecodeError as exc:
                raise EventLineError(f"{self.source}: cannot parse the line again: {exc}") from None
            object.__setattr__(self, "_parsed", parsed)  # a cache, not a change of value
        return parsed

    def release(self) -> None:
        """Forget the parsed line (the plugin calls this once the event's case has run): the
        next attribute that needs it reads and parses the line again."""
        object.__setattr__(self, "_parsed", None)

    @property
    def is_flat(self) -> bool:
        """Whether the event was written in the flat SDK shape."""
        return type(self.raw["input"]) is list

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The input messages, as recorded."""
        inp = self.raw["input"]
        messages: list[dict[str, Any]] = inp if type(inp) is list else inp["messages"]
        return messages

    @property
    def prompt(self) -> str:
        """The text of the last user message ("" when there is none)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _text(message.get("content"))
        return ""

    @property
    def output(self) -> dict[str, Any] | None:
        """The recorded output, or None for a failed call."""
        return self.raw["output"]  # type: ignore[no-any-return]

    @property
    def response(self) -> str:
        """The output's text ("" when there is none)."""
        output = self.raw["output"]
        return _text(output.get("content")) if output is not None else ""

    @property
    def input(self) -> dict[str, Any]:
        raw = self.raw
        if not self.is_flat:
            return raw["input"]  # type: ignore[no-any-return]
        params = raw.get("modelParams") or {}
        return {"model": raw.get("model"), "messages": raw["input"], **params}

    @property
    def metadata(self) -> dict[str, Any]:
        raw = self.raw
        if not self.is_flat:
            return raw.get("metadata") or {}
        return {
            "tags": list(self.tags),
            "model": raw.get("model"),
            "provider": self.provider,
            "duration_ms": raw.get("durationMs"),
            "url": raw.get("url"),
            "location": raw.get("location"),
        }

    @property
    def model(self) -> str | None:
        raw = self.raw
        model: str | None = (
            raw.get("model")
            if self.is_flat
            else (raw.get("metadata") or {}).get("model") or raw["input"].get("model")
        )
        return model

    @property
    def provider(self) -> str | None:
        """The provider as recorded; for the flat shape, read from the request URL's host."""
        if self.is_flat:
            return _provider_from_url(self.raw.get("url"))
        return (self.raw.get("metadata") or {}).get("provider")

    @property
    def usage(self) -> Usage | None:
        """Token counts; OpenAI's and Anthropic's names both land here. None when not recorded."""
        usage = (self.raw["output"] or {}).get("usage")
        if not isinstance(usage, dict):
            return None
        prompt, completion, total = (usage.get(a, usage.get(b)) for a, b in _TOKEN_NAMES)
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
        return Usage(prompt, completion, total)

    @property
    def finish_reason(self) -> str | None:
        """`finish_reason`, or Anthropic's `stop_reason` mapped to OpenAI's words."""
        output = self.raw["output"] or {}
        reason = output.get("finish_reason")
        if reason is None and (stop := output.get("stop_reason")) is not None:
            reason = _STOP_TO_FINISH.get(stop, stop)
        return reason if isinstance(reason, str) else None

    @property
    def error(self) -> str | None:
        """The recorded error of a failed call, as one line."""
        if self.is_flat:
            return None
        return _error_text((self.raw.get("metadata") or {}).get("error"))

    @property
    def duration_ms(self) -> float | None:
        raw = self.raw
        if self.is_flat:
            return raw.get("durationMs")
        return (raw.get("metadata") or {}).get("duration_ms")


def _slot_setters(*names: str) -> tuple[Any, ...]:
    return tuple(Event.__dict__[name].__set__ for name in names)


_SET_ID, _SET_TAGS, _SET_TIMESTAMP, _SET_SUCCEEDED, _SET_FILE, _SET_INDEX, _SET_PARSED = (
    _slot_setters("id", "tags", "timestamp", "succeeded", "_file", "_index", "_parsed")
)


def _new_event(
    event_id: str,
    tags: tuple[str, ...],
    timestamp: datetime | None,
    succeeded: bool,
    file: _EventFile,
    index: int,
) -> Event:
    """`Event(...)` at half the cost, for the reader's hottest line: the slots are set directly,
    where a frozen dataclass's `__init__` goes through `object.__setattr__` for each field."""
    event = object.__new__(Event)
    _SET_ID(event, event_id)
    _SET_TAGS(event, tags)
    _SET_TIMESTAMP(event, timestamp)
    _SET_SUCCEEDED(event, succeeded)
    _SET_FILE(event, file)
    _SET_INDEX(event, index)
    _SET_PARSED(event, None)
    return event


class EventsNotFoundError(Exception):
    """The events folder is missing or holds no event file."""


@dataclass
class EventLog:
    """Everything read from one data folder."""

    folder: Path
    files: list[Path]
    events: list[Event]
    bad_lines: list[BadLine]

    def close(self) -> None:
        """Close the descriptors kept open for reading lines again (the end of a run)."""
        with _OPEN_FILES_LOCK:
            while _OPEN_FILES:
                event_file, fd = _OPEN_FILES.popitem()
                os.close(fd)
                event_file.block = _NO_BLOCK


# --- checking ---------------------------------------------------------------------------------


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
_USAGE: _FieldTypes = {name: _INT for names in _TOKEN_NAMES for name in names}
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


def _parse_timestamp(value: object, errors: list[str]) -> datetime | None:
    if value is None:
        return None
    if type(value) is str:
        text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            # A timestamp without an offset is taken as UTC: the SDKs record UTC.
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)
    errors.append(f"timestamp: expected an ISO 8601 string, got {value!r:.60}")
    return None


def _timestamp_from_ms(ms: float, errors: list[str]) -> datetime | None:
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
_Key = tuple[str | None, tuple[str, ...], datetime | None, bool]


def _check_documented(obj: dict[str, Any], errors: list[str]) -> _Key:
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
        _parse_timestamp(obj.get("timestamp"), errors),
        obj["output"] is not None,
    )


def _check_flat(obj: dict[str, Any], errors: list[str]) -> _Key:
    _check_messages(obj["input"], "input", errors)
    _check_output(obj["output"], errors)
    _check_fields(obj, _FLAT, "", errors)
    tag, start = obj.get("tag"), obj.get("startTimeMs")
    timestamp = None
    if isinstance(start, int | float) and not isinstance(start, bool):
        timestamp = _timestamp_from_ms(start, errors)
    return (None, (tag,) if type(tag) is str and tag else (), timestamp, obj["output"] is not None)


def _check(obj: object, errors: list[str]) -> _Key | None:
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
    _check(obj, errors)
    return not errors, errors


# --- reading ----------------------------------------------------------------------------------


def _content_hash(line: bytes) -> str:
    return hashlib.blake2b(line.strip(), digest_size=5).hexdigest()


def _safe_id(request_id: str) -> str:
    safe = _UNSAFE_ID_CHARS.sub("_", request_id)
    return f"ev-{safe}" if safe in _K_KEYWORDS else safe


def _line_error(line: bytes, at_end_of_file: bool, exc: orjson.JSONDecodeError) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not valid UTF-8 (byte 0x{line[bad.start]:02x} at column {bad.start + 1})"
    if _records_run_on_after_a_lone_cr(line):
        return "lines separated by a lone CR (old Mac line ends): JSON Lines needs LF or CRLF"
    if at_end_of_file:
        return "truncated JSON: the file ends in the middle of this line"
    return f"not valid JSON ({exc})"


def _records_run_on_after_a_lone_cr(line: bytes) -> bool:
    """Whether the line is records ended by a lone CR, read as one line (only LF ends a line):
    what comes before its first lone CR is a whole JSON document."""
    cr = line.find(b"\r")
    while cr != -1 and line[cr + 1 : cr + 2] == b"\n":
        cr = line.find(b"\r", cr + 1)
    if cr == -1:
        return False
    try:
        orjson.loads(line[:cr])
    except orjson.JSONDecodeError:
        return False  # cut short or broken before it: the CR is not what is wrong
    return True


def _target(link: Path) -> str:
    try:
        return os.readlink(link)
    except OSError:  # gone since it was listed
        return "?"


def _event_files(events_dir: Path) -> tuple[list[Path], list[BadLine]]:
    """The events files under `events_dir` in sorted path order, symbolic links followed; and
    the links that could not be followed, and folders that could not be listed.

    `Path.rglob` does not follow linked folders (before Python 3.13), so events linked in were
    left out without a word. A folder or file reached twice (two links to one folder, a link
    such as `latest.jsonl` beside its target) is read once, under the first of its paths in
    sorted order, so that no event is read twice. A link that loops or leads nowhere is named.
    """
    files: list[Path] = []
    problems: list[BadLine] = []
    root = os.stat(events_dir)
    taken = {(root.st_dev, root.st_ino)}  # every folder and file met so far

    def problem(path: Path, reason: str) -> None:
        problems.append(BadLine(Source(_display_path(path), 0), reason))

    # Depth first, each folder's entries sorted by name: the order of sorting the full paths.
    def walk(folder: Path, enclosing: frozenset[tuple[int, int]]) -> None:
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            problem(folder, f"cannot list this folder: {exc.strerror or exc}")
            return
        for entry in entries:
            link = entry.is_symlink()
            is_events_file = entry.name.endswith(_EVENT_FILE_NAMES)
            if not (link or is_events_file or entry.is_dir(follow_symlinks=False)):
                continue  # a file of another kind: no stat needed
            path = Path(entry.path)
            try:
                found = entry.stat()  # through links
            except OSError as exc:
                if link and exc.errno == errno.ELOOP:
                    problem(path, "a symbolic link loop (it leads back to itself): not followed")
                elif link and isinstance(exc, FileNotFoundError):
                    problem(path, f"a dangling symbolic link (to {_target(path)}): nothing to read")
                continue  # otherwise gone since it was listed
            identity = (found.st_dev, found.st_ino)
            if stat.S_ISDIR(found.st_mode):
                if identity in enclosing:
                    problem(path, "a symbolic link loop (to an enclosing folder): not followed")
                elif identity not in taken:
                    taken.add(identity)
                    walk(path, enclosing | {identity})
            elif is_events_file and stat.S_ISREG(found.st_mode) and identity not in taken:
                taken.add(identity)
                files.append(path)

    walk(events_dir, frozenset(taken))
    return files, problems


def _display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it, for short messages."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _Reader:
    """Reads files in order, giving each event an id unique within the whole folder."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.bad_lines: list[BadLine] = []
        self._ids: set[str] = set()
        self._tags: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per distinct tags

    def _unique_id(self, request_id: str | None, line: bytes) -> str:
        if request_id:
            candidate = _safe_id(request_id)
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate
            # A repeated request_id keeps its readable prefix and gains the content's hash.
            candidate = f"{candidate}-{_content_hash(line)}"
        else:
            candidate = f"ev-{_content_hash(line)}"
        base, n = candidate, 1
        while candidate in self._ids:  # identical lines: numbered in reading order
            n += 1
            candidate = f"{base}-{n}"
        self._ids.add(candidate)
        return candidate

    def read_file(self, path: Path) -> None:
        from pytest_trainloop.gate import gate  # here: msgspec and its structs take 20 ms to load

        gzipped = path.name.endswith(".gz")
        file = _EventFile(path, _display_path(path), keep_lines=gzipped)
        lineno = offset = 0
        try:
            with gzip.open(path, "rb") if gzipped else path.open("rb") as lines:
                try:
                    for lineno, line in enumerate(lines, 1):
                        start = offset
                        offset += len(line)
                        if lineno == 1 and line.startswith(_BOM):
                            line = line[len(_BOM) :]
                            start += len(_BOM)
                        key = gate(line) or self._check_slowly(file.shown, lineno, line)
                        if key is not None:
                            request_id, tags, timestamp, succeeded = key
                            event_id = self._unique_id(request_id, line)
                            index = file.add(lineno, start, line)
                            tags = self._tags.setdefault(tags, tags)
                            self.events.append(
                                _new_event(event_id, tags, timestamp, succeeded, file, index)
                            )
                finally:  # of what was read, even if reading broke off
                    if not gzipped:
                        file.fingerprint(lines.fileno(), offset)
        except (OSError, EOFError, zlib.error) as exc:
            # A corrupt or cut-off .gz: keep what came before, say where it broke, go on.
            self.bad_lines.append(
                BadLine(Source(file.shown, lineno + 1), f"cannot read the file further: {exc}")
            )

    def _check_slowly(self, shown: str, lineno: int, line: bytes) -> _Key | None:
        """Parse and check a line the gate refused; a bad line is noted with every problem."""
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if line.strip():
                reason = _line_error(line, not line.endswith(b"\n"), exc)
                self.bad_lines.append(BadLine(Source(shown, lineno), reason))
            return None
        errors: list[str] = []
        key = _check(obj, errors)
        if key is None or errors:
            reason = "; ".join(errors[:_PROBLEMS_NAMED])
            if len(errors) > _PROBLEMS_NAMED:
                reason += f"; and {len(errors) - _PROBLEMS_NAMED} more"
            self.bad_lines.append(BadLine(Source(shown, lineno), reason))
            return None
        return key


def read_events(data_folder: str | os.PathLike[str]) -> EventLog:
    """Read `events/**/*.jsonl[.gz]` under `data_folder`, in sorted path order, line order kept.

    Bad lines are collected in the log, never raised; a missing or empty events folder raises
    `EventsNotFoundError` with a message that says how to point at the right one.
    """
    folder = Path(data_folder)
    events_dir = folder / "events"
    hint = (
        "point pytest-trainloop at the folder that holds events/ with --trainloop-data-folder, "
        "the TRAINLOOP_DATA_FOLDER variable, the trainloop_data_folder ini key or "
        "'trainloop: data_folder:' in trainloop.config.yaml"
    )
    if not events_dir.is_dir():
        raise EventsNotFoundError(f"no events folder at {events_dir}: {hint}")
    files, unreachable = _event_files(events_dir)
    if not files:
        named = "".join(f"; {problem}" for problem in unreachable)
        raise EventsNotFoundError(f"no *.jsonl or *.jsonl.gz files in {events_dir}{named}: {hint}")
    reader = _Reader()
    reader.bad_lines.extend(unreachable)
    # Events hold no reference cycles, yet allocation bursts would trigger full collections
    # over everything kept so far: measured at +40% read time on 100k events.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for path in files:
            reader.read_file(path)
    finally:
        if gc_was_enabled:
            gc.enable()
    return EventLog(folder=folder, files=files, events=reader.events, bad_lines=reader.bad_lines)

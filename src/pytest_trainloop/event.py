"""`Event`, one recorded LLM call presented the same whichever shape it was written in.

Two shapes reach us. The documented one (`timestamp`, `input{messages,...}`, `output{...}`,
`metadata{tags,...}`) and the flat one the TrainLoop SDKs write (`tag`, `durationMs`, `input`
as a messages list, `output{content}`, `model`, `modelParams`, `startTimeMs`, ...). An `Event`
keeps where its line lies (`lines.EventFile`), not the line: the line is read and parsed again
when a metric asks for it, and its other attributes derive from that dict.

Below the checks and the reader: imports only `lines` and `texts`, and no pytest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from pytest_trainloop.lines import EventFile, EventLineError
from pytest_trainloop.texts import Texts, decode_texts, text_of

# pytest leaves this module's frames out of a failing metric's traceback: an error met inside an
# event's attribute (a file cut during the run, say) is shown at the metric's own line, with
# its message; `--full-trace` shows them all.
__tracebackhide__ = True

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
# Each usage count under OpenAI's name and Anthropic's; the checks know the same names.
TOKEN_NAMES = (
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


def _error_text(error: object) -> str | None:
    """A recorded error as one readable line (SDKs write a string or a `{type, message}` dict)."""
    if error is None or isinstance(error, str):
        return error
    if isinstance(error, dict):
        head = " ".join(str(error[k]) for k in ("type", "status_code") if error.get(k) is not None)
        message = str(error.get("message", ""))
        return f"{head}: {message}" if head and message else head or message
    return str(error)


def provider_from_url(url: object) -> str | None:
    """The provider a request URL was sent to, from its host (`api.openai.com`: openai)."""
    if not isinstance(url, str):
        return None
    host = url.split("//", 1)[-1].split("/", 1)[0].lower()
    return next((name for needle, name in _PROVIDER_HOSTS if needle in host), None)


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
    _file: EventFile = field(repr=False)
    _index: int = field(repr=False)
    _parsed: dict[str, Any] | None = field(default=None, init=False, repr=False)
    _texts: Texts | None = field(default=None, init=False, repr=False)

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
                # The reader's check passed it (a number past a double's range, 1e999, in a
                # field the check leaves unbuilt is the one known way), orjson does not.
                raise EventLineError(
                    f"{self.source}: orjson cannot parse the line: {exc}"
                ) from None
            object.__setattr__(self, "_parsed", parsed)  # a cache, not a change of value
        return parsed

    def _read_texts(self) -> Texts | None:
        """The line's texts alone (see `texts`), kept until `release`; None if only a whole
        parse reads them."""
        texts = decode_texts(self.line)
        _SET_TEXTS(self, texts)
        return texts

    def release(self) -> None:
        """Forget the parsed line (the plugin calls this once the event's case has run): the
        next attribute that needs it reads and parses the line again."""
        release_all((self,))

    @property
    def is_flat(self) -> bool:
        """Whether the event was written in the flat SDK shape."""
        return type(self.raw["input"]) is list

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The input messages, as recorded."""
        inp = (self._parsed or self.raw)["input"]  # without a call when parsed: metrics' hot path
        messages: list[dict[str, Any]] = inp if type(inp) is list else inp["messages"]
        return messages

    @property
    def prompt(self) -> str:
        """The text of the last user message ("" when there is none)."""
        parsed = self._parsed
        if parsed is None and (texts := self._texts or self._read_texts()) is not None:
            return texts.prompt()
        inp = (parsed or self.raw)["input"]
        for message in reversed(inp if type(inp) is list else inp["messages"]):
            if message.get("role") == "user":
                content = message.get("content")
                return content if type(content) is str else text_of(content)
        return ""

    @property
    def output(self) -> dict[str, Any] | None:
        """The recorded output, or None for a failed call."""
        return self.raw["output"]  # type: ignore[no-any-return]

    @property
    def response(self) -> str:
        """The output's text ("" when there is none)."""
        parsed = self._parsed
        if parsed is None and (texts := self._texts or self._read_texts()) is not None:
            return texts.response()
        output = (parsed or self.raw)["output"]
        if output is None:
            return ""
        content = output.get("content")
        return content if type(content) is str else text_of(content)

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
            return provider_from_url(self.raw.get("url"))
        return (self.raw.get("metadata") or {}).get("provider")

    @property
    def usage(self) -> Usage | None:
        """Token counts; OpenAI's and Anthropic's names both land here. None when not recorded."""
        usage = (self.raw["output"] or {}).get("usage")
        if not isinstance(usage, dict):
            return None
        prompt, completion, total = (usage.get(a, usage.get(b)) for a, b in TOKEN_NAMES)
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


(
    _SET_ID,
    _SET_TAGS,
    _SET_TIMESTAMP,
    _SET_SUCCEEDED,
    _SET_FILE,
    _SET_INDEX,
    _SET_PARSED,
    _SET_TEXTS,
) = _slot_setters("id", "tags", "timestamp", "succeeded", "_file", "_index", "_parsed", "_texts")


def release_all(events: Iterable[Event]) -> None:
    """`Event.release` for each of `events`, without a method call each (a chunk's 5000)."""
    for event in events:  # the slots directly: `object.__setattr__` cost twice as much
        _SET_PARSED(event, None)
        _SET_TEXTS(event, None)


def new_event(
    event_id: str,
    tags: tuple[str, ...],
    timestamp: datetime | None,
    succeeded: bool,
    file: EventFile,
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
    _SET_TEXTS(event, None)
    return event

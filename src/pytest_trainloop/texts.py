"""The texts an event's line holds (its messages' and its output's), decoded alone.

Most metrics read `event.response` and `event.prompt`, and nothing else of the line: decoding
just those (msgspec, in C, into small structs, the rest of the line skipped) costs about half
of parsing the whole line into dicts, and keeps much less alive while a chunk's metrics run.
`Event` asks for them when its line is not parsed already; anything else it is asked for
parses the whole line.

The reader's checks have passed every line that reaches here: a message has a string role and
its content is a string, a list of parts or null; so has the output's. Below `event`, no
pytest.
"""

from __future__ import annotations

from typing import Any

import msgspec


def text_of(content: object) -> str:
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


class _Message(msgspec.Struct):
    role: Any = None
    content: str | list[Any] | None = None


class _Input(msgspec.Struct):
    messages: list[_Message] = []


class _Output(msgspec.Struct):
    content: str | list[Any] | None = None


class Texts(msgspec.Struct):
    """The messages and the output's content of one line, in either shape."""

    input: _Input | list[_Message]
    output: _Output | None = None

    def prompt(self) -> str:
        """As `Event.prompt`: the text of the last user message ("" when there is none)."""
        inp = self.input
        for message in reversed(inp if type(inp) is list else inp.messages):  # type: ignore[union-attr]
            if message.role == "user":
                content = message.content
                return content if type(content) is str else text_of(content)
        return ""

    def response(self) -> str:
        """As `Event.response`: the output's text ("" when there is none)."""
        output = self.output
        if output is None:
            return ""
        content = output.content
        return content if type(content) is str else text_of(content)


_DECODER = msgspec.json.Decoder(Texts)


def decode_texts(line: bytes) -> Texts | None:
    """The line's texts; None if they cannot be read so (the caller parses the whole line)."""
    try:
        return _DECODER.decode(line)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None

"""Checking one parsed event: each kind of mistake, in either shape, gives the message a user
reads, naming the field and what was expected."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pytest_trainloop.events import validate_event
from tests.conftest import documented_event, flat_event


def documented(**changes: Any) -> dict[str, Any]:
    """A valid documented event with `changes` made at paths such as `output__usage__x=1`."""
    event = documented_event()
    for path, value in changes.items():
        *parents, key = path.split("__")
        into = event
        for parent in parents:
            into = into[parent]
        into[key] = value
    return event


def flat(**changes: Any) -> dict[str, Any]:
    return {**flat_event(), **changes}


def errors_of(event: object) -> list[str]:
    ok, errors = validate_event(event)
    assert ok == (not errors)
    return errors


# --- valid events -------------------------------------------------------------------------------


def test_a_documented_event_and_a_flat_one_are_valid() -> None:
    assert validate_event(documented_event()) == (True, [])
    assert validate_event(flat_event()) == (True, [])


def test_a_failed_call_with_a_null_output_is_valid_in_either_shape() -> None:
    assert errors_of(documented_event(content=None)) == []
    assert errors_of(flat_event(content=None)) == []


def test_fields_the_formats_do_not_name_are_free() -> None:
    assert errors_of(documented(extra={"any": ["thing"]}, metadata__team=3.5)) == []
    assert errors_of(flat(customer={"id": 7.0})) == []


def test_known_fields_may_be_null() -> None:
    nulls = documented(
        metadata__provider=None, metadata__duration_ms=None, output__usage=None, timestamp=None
    )
    assert errors_of(nulls) == []
    assert errors_of(flat(tag=None, durationMs=None, modelParams=None)) == []


def test_message_content_may_be_parts_or_null() -> None:
    parts = [{"type": "text", "text": "Hello!"}]
    assert errors_of(documented(input__messages=[{"role": "user", "content": parts}])) == []
    assert errors_of(documented(input__messages=[{"role": "assistant", "content": None}])) == []


def test_a_timestamp_without_an_offset_is_valid() -> None:
    assert errors_of(documented(timestamp="2024-01-15T14:30:25")) == []
    assert errors_of(documented(timestamp="2024-01-15T14:30:25.123+02:00")) == []


# --- what is not an event -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "got"), [([1], "array"), ("hi", "string"), (None, "null"), (1.5, "number")]
)
def test_a_line_that_is_not_an_object_says_what_it_is(value: object, got: str) -> None:
    assert errors_of(value) == [f"expected a JSON object, got {got}"]


def test_an_object_without_input_or_output_names_each_missing_one() -> None:
    assert errors_of({}) == ["input: missing", "output: missing"]
    assert errors_of({"input": {"messages": []}}) == ["output: missing"]
    assert errors_of({"output": None}) == ["input: missing"]


# --- the documented shape -----------------------------------------------------------------------

DOCUMENTED_MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    ("input-not-object", {"input": "Hello!"}, "input: expected an object, got string"),
    (
        "messages-not-array",
        {"input__messages": "Hello!"},
        "input.messages: expected an array of messages, got string",
    ),
    (
        "messages-missing",
        {"input": {"model": "gpt-4o-mini"}},
        "input.messages: expected an array of messages, got null",
    ),
    (
        "message-not-object",
        {"input__messages": ["Hello!"]},
        "input.messages[0]: expected a message object, got string",
    ),
    (
        "message-without-role",
        {"input__messages": [{"content": "Hello!"}]},
        "input.messages[0].role: expected a string",
    ),
    (
        "content-a-number",
        {"input__messages": [{"role": "user", "content": 1.5}]},
        "input.messages[0].content: expected a string, parts or null, got number",
    ),
    ("model-not-text", {"input__model": True}, "input.model: expected a string, got boolean"),
    ("output-text", {"output": "Hi"}, "output: expected an object or null, got string"),
    ("output-array", {"output": []}, "output: expected an object or null, got array"),
    (
        "content-boolean",
        {"output__content": False},
        "output.content: expected a string, got boolean",
    ),
    (
        "tool-calls-object",
        {"output__tool_calls": {}},
        "output.tool_calls: expected an array, got object",
    ),
    (
        "finish-reason-number",
        {"output__finish_reason": 1.0},
        "output.finish_reason: expected a string, got number",
    ),
    ("usage-array", {"output__usage": []}, "output.usage: expected an object, got array"),
    (
        "tokens-text",
        {"output__usage__prompt_tokens": "10"},
        "output.usage.prompt_tokens: expected an integer, got string",
    ),
    (
        "tokens-fraction",
        {"output__usage__output_tokens": 1.5},
        "output.usage.output_tokens: expected an integer, got number",
    ),
    ("metadata-array", {"metadata": []}, "metadata: expected an object, got array"),
    (
        "tags-text",
        {"metadata__tags": "greeting"},
        "metadata.tags: expected an array of strings, got string",
    ),
    (
        "duration-text",
        {"metadata__duration_ms": "812"},
        "metadata.duration_ms: expected a number, got string",
    ),
    (
        "duration-boolean",
        {"metadata__duration_ms": True},
        "metadata.duration_ms: expected a number, got boolean",
    ),
    (
        "request-id-number",
        {"metadata__request_id": 1.0},
        "metadata.request_id: expected a string, got number",
    ),
    (
        "error-array",
        {"metadata__error": ["timeout"]},
        "metadata.error: expected a string or an object, got array",
    ),
    (
        "timestamp-words",
        {"timestamp": "yesterday"},
        "timestamp: expected an ISO 8601 string, got 'yesterday'",
    ),
    (
        "timestamp-milliseconds",
        {"timestamp": 1705329025123},
        "timestamp: expected an ISO 8601 string, got 1705329025123",
    ),
]


@pytest.mark.parametrize(
    ("changes", "message"),
    [mistake[1:] for mistake in DOCUMENTED_MISTAKES],
    ids=[mistake[0] for mistake in DOCUMENTED_MISTAKES],
)
def test_a_documented_event_with_a_mistake_names_the_field_and_what_was_expected(
    changes: dict[str, Any], message: str
) -> None:
    assert errors_of(documented(**changes)) == [message]


def test_a_long_bad_timestamp_is_shown_cut_short() -> None:
    [message] = errors_of(documented(timestamp="x" * 100))
    assert message == "timestamp: expected an ISO 8601 string, got '" + "x" * 59


def test_a_token_count_beyond_64_bits_is_called_out_of_range_not_a_number() -> None:
    line = (
        b'{"input": {"messages": []}, "output": {"usage": {"total_tokens": 18446744073709551616}}}'
    )
    assert errors_of(orjson.loads(line)) == [
        "output.usage.total_tokens: expected an integer, got one out of range (beyond 64 bits)"
    ]


def test_every_mistake_of_an_event_is_named_in_the_order_of_the_event() -> None:
    event = documented(
        input__messages=[{"role": "user", "content": "Hi"}, "Hello!"],
        output__role=1.0,
        metadata__tags="qa",
        timestamp="soon",
    )
    assert errors_of(event) == [
        "input.messages[1]: expected a message object, got string",
        "output.role: expected a string, got number",
        "metadata.tags: expected an array of strings, got string",
        "timestamp: expected an ISO 8601 string, got 'soon'",
    ]


# --- the flat shape -----------------------------------------------------------------------------

FLAT_MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    ("tag-number", {"tag": 1.0}, "tag: expected a string, got number"),
    ("model-array", {"model": ["a"]}, "model: expected a string, got array"),
    ("url-boolean", {"url": False}, "url: expected a string, got boolean"),
    ("params-text", {"modelParams": "hot"}, "modelParams: expected an object, got string"),
    ("location-text", {"location": "app.py:42"}, "location: expected an object, got string"),
    ("duration-text", {"durationMs": "812"}, "durationMs: expected a number, got string"),
    ("start-text", {"startTimeMs": "now"}, "startTimeMs: expected a number, got string"),
    ("end-object", {"endTimeMs": {}}, "endTimeMs: expected a number, got object"),
    (
        "start-out-of-range",
        {"startTimeMs": 1e20},
        "startTimeMs: expected milliseconds since 1970, got 1e+20",
    ),
    (
        "input-text",
        {"input": "Say hi"},
        "input: expected an array of messages, got string",
    ),
    (
        "message-without-role",
        {"input": [{"content": "Say hi"}]},
        "input[0].role: expected a string",
    ),
    (
        "output-content-object",
        {"output": {"content": {}}},
        "output.content: expected a string, got object",
    ),
]


@pytest.mark.parametrize(
    ("changes", "message"),
    [mistake[1:] for mistake in FLAT_MISTAKES],
    ids=[mistake[0] for mistake in FLAT_MISTAKES],
)
def test_a_flat_event_with_a_mistake_names_the_field_and_what_was_expected(
    changes: dict[str, Any], message: str
) -> None:
    assert errors_of(flat(**changes)) == [message]


def test_an_input_that_is_a_list_of_messages_is_read_as_the_flat_shape() -> None:
    event = {"input": [{"role": "user", "content": "Hi"}], "output": None, "url": 3.0}
    assert errors_of(event) == ["url: expected a string, got number"]

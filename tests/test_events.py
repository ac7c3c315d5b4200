"""The event reader on crafted files: both shapes, gz, ordering, ids and every kind of bad line."""

from __future__ import annotations

import contextlib
import copy
import gzip
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from pytest_trainloop import EventsNotFoundError, Usage, read_events, validate_event
from pytest_trainloop.events import EventLineError
from pytest_trainloop.gate import gate
from pytest_trainloop.validation import check_event
from tests.conftest import documented_event, flat_event, write_lines


def test_it_normalizes_the_documented_shape(data_folder: Path) -> None:
    write_lines(data_folder / "events" / "2024-01-15.jsonl", [documented_event(tags=["qa", "geo"])])
    [event] = read_events(data_folder).events
    assert event.id == "req_1"
    assert event.tags == ("qa", "geo")
    assert event.timestamp == datetime(2024, 1, 15, 14, 30, 25, 123000, tzinfo=timezone.utc)
    assert event.prompt == "Hello!"
    assert event.response == "Hello! How can I help you today?"
    assert event.messages == [{"role": "user", "content": "Hello!"}]
    assert event.model == "gpt-4o-mini"
    assert event.provider == "openai"
    assert event.usage == Usage(10, 8, 18)
    assert event.finish_reason == "stop"
    assert event.error is None
    assert event.output is not None and event.output["role"] == "assistant"
    assert event.input["model"] == "gpt-4o-mini"
    assert event.metadata["request_id"] == "req_1"
    assert event.source.line == 1 and event.source.path.endswith("2024-01-15.jsonl")
    assert event.raw["metadata"]["tags"] == ["qa", "geo"]


def test_it_normalizes_the_flat_sdk_shape(data_folder: Path) -> None:
    write_lines(data_folder / "events" / "a.jsonl", [flat_event(tag="support")])
    [event] = read_events(data_folder).events
    assert event.tags == ("support",)
    assert event.timestamp == datetime(2024, 1, 15, 14, 30, 25, 123000, tzinfo=timezone.utc)
    assert event.prompt == "Say hi"
    assert event.response == "Hi there"
    assert event.model == "claude-3-5-sonnet-20241022"
    assert event.provider == "anthropic"
    assert event.duration_ms == 812
    assert event.usage is None
    assert event.input == {
        "model": "claude-3-5-sonnet-20241022",
        "messages": [{"role": "user", "content": "Say hi"}],
        "temperature": 0.2,
        "max_tokens": 256,
    }
    assert event.metadata["tags"] == ["support"]
    assert event.metadata["location"] == {"tag": "app/llm.py", "lineNumber": "42"}
    assert event.id.startswith("ev-")


def test_anthropic_usage_and_stop_reason_read_like_openai(data_folder: Path) -> None:
    event = documented_event(provider="anthropic")
    assert event["output"] is not None
    event["output"]["usage"] = {"input_tokens": 10, "output_tokens": 8}
    del event["output"]["finish_reason"]
    event["output"]["stop_reason"] = "max_tokens"
    write_lines(data_folder / "events" / "a.jsonl", [event])
    [read] = read_events(data_folder).events
    assert read.usage == Usage(prompt_tokens=10, completion_tokens=8, total_tokens=18)
    assert read.finish_reason == "length"
    assert read.output is not None and read.output["stop_reason"] == "max_tokens"


def test_a_failed_call_has_no_response_and_names_its_error(data_folder: Path) -> None:
    error = {"type": "RateLimitError", "status_code": 429, "message": "Rate limit reached"}
    write_lines(
        data_folder / "events" / "a.jsonl",
        [
            documented_event(content=None, error=error),
            documented_event("r2", content=None, error="Timed out"),
        ],
    )
    first, second = read_events(data_folder).events
    assert first.output is None and first.response == "" and first.usage is None
    assert first.error == "RateLimitError 429: Rate limit reached"
    assert second.error == "Timed out"


def test_content_given_as_parts_reads_as_text(data_folder: Path) -> None:
    event = documented_event()
    event["input"]["messages"] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look: "},
                {"type": "image_url", "image_url": {"url": "x"}},
                {"type": "text", "text": "a cat"},
            ],
        },
        {"role": "assistant", "content": None, "tool_calls": []},
    ]
    write_lines(data_folder / "events" / "a.jsonl", [event])
    [read] = read_events(data_folder).events
    assert read.prompt == "Look: a cat"


def test_prompt_and_response_read_alone_equal_those_of_the_parsed_line(data_folder: Path) -> None:
    # Read before anything else, they decode the line's texts alone (texts.py); read after
    # `raw`, they come from the parsed dict: both ways must agree on every shape.
    parts = [{"type": "text", "text": "Look: "}, {"type": "image_url"}, "plain", {"text": "x"}]
    documented = documented_event()
    with_parts = documented_event("r2")
    with_parts["input"]["messages"] = [
        {"role": "user", "content": "first"},
        {"role": "user", "content": parts},
        {"role": "assistant", "content": None},
    ]
    with_parts["output"]["content"] = parts
    no_user = documented_event("r3")
    no_user["input"]["messages"] = [{"role": "system", "content": "be brief"}]
    no_content = documented_event("r4")
    no_content["input"]["messages"] = [{"role": "user"}]
    del no_content["output"]["content"]
    lines = [
        documented,
        with_parts,
        no_user,
        no_content,
        documented_event("r5", content=None, error="Timed out"),
        flat_event(),
        flat_event(content=None),
    ]
    write_lines(data_folder / "events" / "a.jsonl", lines)
    alone = [(e.prompt, e.response) for e in read_events(data_folder).events]
    parsed = [(e.raw and e.prompt, e.response) for e in read_events(data_folder).events]
    assert alone == parsed
    assert alone[:5] == [
        ("Hello!", "Hello! How can I help you today?"),
        ("Look: plain", "Look: plain"),
        ("", "Hello! How can I help you today?"),
        ("", ""),
        ("Hello!", ""),
    ]


def test_a_timestamp_past_the_microsecond_is_cut_not_rounded_into_the_next_day(
    data_folder: Path,
) -> None:
    # As --trainloop-since/--until read theirs: rounding would move this event into 2025.
    write_lines(
        data_folder / "events" / "a.jsonl",
        [documented_event(timestamp="2024-12-31T23:59:59.9999999Z")],
    )
    [event] = read_events(data_folder).events
    assert event.timestamp == datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)


def test_files_are_read_in_sorted_path_order_and_line_order_is_kept(data_folder: Path) -> None:
    events = data_folder / "events"
    write_lines(events / "b.jsonl", [documented_event("b1"), documented_event("b2")])
    write_lines(events / "a" / "z.jsonl", [documented_event("az1")])
    write_lines(events / "a.jsonl.gz", [documented_event("agz1"), documented_event("agz2")])
    (events / "notes.txt").write_text("not events")
    log = read_events(data_folder)
    assert [e.id for e in log.events] == ["az1", "agz1", "agz2", "b1", "b2"]
    assert [Path(p).name for p in log.files] == ["z.jsonl", "a.jsonl.gz", "b.jsonl"]
    assert log.bad_lines == []


def test_gzip_files_read_like_plain_ones(data_folder: Path) -> None:
    write_lines(data_folder / "events" / "a.jsonl.gz", [documented_event("g1"), flat_event()])
    log = read_events(data_folder)
    assert [e.tags for e in log.events] == [("greeting",), ("greeting",)]
    assert log.events[0].id == "g1"


def test_a_corrupt_gzip_is_reported_and_other_files_still_read(data_folder: Path) -> None:
    events = data_folder / "events"
    good = gzip.compress(
        b"".join(orjson.dumps(documented_event(f"g{i}")) + b"\n" for i in range(200))
    )
    (events / "a.jsonl.gz").write_bytes(good[: len(good) // 2])  # cut off mid-stream
    (events / "b.jsonl.gz").write_bytes(b"this is not gzip at all")
    write_lines(events / "c.jsonl", [documented_event("c1")])
    log = read_events(data_folder)
    assert log.events[-1].id == "c1"
    assert 0 < len(log.events) < 201
    assert [str(b.source).rsplit("/", 1)[-1].split(":")[0] for b in log.bad_lines] == [
        "a.jsonl.gz",
        "b.jsonl.gz",
    ]
    assert all("cannot read the file further" in b.reason for b in log.bad_lines)
    assert log.bad_lines[1].source.line == 1


BAD_LINES = [
    pytest.param(b'{"timestamp": "2024-01-15T1', "not valid JSON", id="invalid-json"),
    pytest.param(b"[1, 2, 3]", "expected a JSON object, got array", id="array"),
    pytest.param(b"42", "expected a JSON object, got int", id="number"),
    pytest.param(b'"text"', "expected a JSON object, got string", id="string"),
    pytest.param(b"null", "expected a JSON object, got null", id="null"),
    pytest.param(orjson.dumps({"output": None, "metadata": {}}), "input: missing", id="no-input"),
    pytest.param(orjson.dumps({"input": {"messages": []}}), "output: missing", id="no-output"),
    pytest.param(
        orjson.dumps(documented_event(tags="greeting")),
        "metadata.tags: expected an array of strings, got string",
        id="tags-as-string",
    ),
    pytest.param(
        orjson.dumps({**documented_event(), "output": "Hello"}),
        "output: expected an object or null, got string",
        id="output-as-string",
    ),
    pytest.param(
        orjson.dumps({**documented_event(), "input": {"messages": "Hello"}}),
        "input.messages: expected an array of messages, got string",
        id="messages-as-string",
    ),
    pytest.param(
        orjson.dumps(documented_event(timestamp="yesterday")),
        "timestamp: expected an ISO 8601 string, got 'yesterday'",
        id="bad-timestamp",
    ),
    pytest.param(
        orjson.dumps(documented_event(duration_ms="fast")),
        "metadata.duration_ms: expected a number, got string",
        id="duration-as-string",
    ),
    pytest.param(
        orjson.dumps({**flat_event(), "startTimeMs": 1e20}),
        "startTimeMs: expected milliseconds since 1970, got 1e+20",
        id="start-time-out-of-range",
    ),
    pytest.param(
        b'{"input": {"messages": []}, "output": {"content": "caf\xe9"}}',
        "not valid UTF-8 (byte 0xe9 at column 55)",
        id="invalid-utf8",
    ),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_LINES)
def test_each_bad_line_is_reported_by_file_and_line_and_good_lines_still_read(
    data_folder: Path, bad: bytes, reason: str
) -> None:
    path = write_lines(
        data_folder / "events" / "a.jsonl", [documented_event("r1"), bad, documented_event("r3")]
    )
    log = read_events(data_folder)
    assert [e.id for e in log.events] == ["r1", "r3"]
    [bad_line] = log.bad_lines
    assert bad_line.source.line == 2
    assert Path(bad_line.source.path).resolve() == path.resolve()
    assert reason in bad_line.reason
    assert str(bad_line).startswith(f"{bad_line.source.path}:2: ")


def test_a_truncated_last_line_is_reported_as_truncated(data_folder: Path) -> None:
    path = data_folder / "events" / "a.jsonl"
    path.write_bytes(orjson.dumps(documented_event("r1")) + b"\n" + b'{"input": {"mess')
    log = read_events(data_folder)
    assert [e.id for e in log.events] == ["r1"]
    [bad] = log.bad_lines
    assert bad.source.line == 2
    assert bad.reason == "truncated JSON: the file ends in the middle of this line"


def test_bom_crlf_blank_lines_and_no_final_newline_are_not_errors(data_folder: Path) -> None:
    one, two = (orjson.dumps(documented_event(r)) for r in ("r1", "r2"))
    (data_folder / "events" / "a.jsonl").write_bytes(
        b"\xef\xbb\xbf" + one + b"\r\n" + b"\r\n" + b"   \t\n" + two
    )
    log = read_events(data_folder)
    assert [e.id for e in log.events] == ["r1", "r2"]
    assert [e.source.line for e in log.events] == [1, 4]
    assert log.bad_lines == []


def test_a_missing_events_folder_names_it_and_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(EventsNotFoundError, match=r"no events folder at .*nowhere.events") as info:
        read_events(tmp_path / "nowhere")
    assert "--trainloop-data-folder" in str(info.value)
    assert "TRAINLOOP_DATA_FOLDER" in str(info.value)


def test_an_empty_events_folder_names_it(data_folder: Path) -> None:
    with pytest.raises(EventsNotFoundError, match=r"no \*\.jsonl or \*\.jsonl\.gz files in"):
        read_events(data_folder)


def test_ids_prefer_request_ids_and_make_repeats_unique_deterministically(
    data_folder: Path,
) -> None:
    same = documented_event("req_dup", content="first")
    write_lines(
        data_folder / "events" / "a.jsonl",
        [
            same,
            documented_event("req_dup", content="second"),
            same,
            documented_event(None, content="no request id"),
            documented_event(None, content="no request id"),
            documented_event("weird id/with spaces", content="x"),
            documented_event("not", content="x"),
        ],
    )
    ids = [e.id for e in read_events(data_folder).events]
    assert ids[0] == "req_dup"
    assert ids[1].startswith("req_dup-")
    assert ids[2].startswith("req_dup-")
    assert ids[2] != ids[1]  # same content as the first line: numbered
    assert ids[3].startswith("ev-")
    assert ids[4] == f"{ids[3]}-2"
    assert ids[5] == "weird_id_with_spaces"
    assert ids[6] == "ev-not"
    assert len(set(ids)) == len(ids)
    assert ids == [e.id for e in read_events(data_folder).events]


def test_validate_event_accepts_both_shapes() -> None:
    assert validate_event(documented_event()) == (True, [])
    assert validate_event(flat_event()) == (True, [])
    assert validate_event(documented_event(content=None)) == (True, [])


def test_validate_event_names_every_wrong_field() -> None:
    event = documented_event(tags="qa", provider=3)
    event["output"]["usage"]["prompt_tokens"] = "ten"
    ok, errors = validate_event(event)
    assert not ok
    assert errors == [
        "output.usage.prompt_tokens: expected an integer, got string",
        "metadata.provider: expected a string, got int",
        "metadata.tags: expected an array of strings, got string",
    ]
    flat = flat_event()
    flat["durationMs"] = "slow"
    flat["input"] = [{"content": "no role"}]
    assert validate_event(flat) == (
        False,
        ["input[0].role: expected a string", "durationMs: expected a number, got string"],
    )


# --- the fast gate and the full check agree ---------------------------------------------------

ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63,
    2**64,
    1.5,
    1e300,
    "",
    "x",
    "2024-01-15T14:30:25Z",
    "2024-01-15 14:30",
    "2024-01-15T14:30:25.1234567",  # more than 6 fractional digits: rounded, on both paths
    "2024-01-15T14:30:25.9999999+02:00",
    "2024-01-15",
    [],
    ["a"],
    [1],
    [{}],
    [{"role": "user"}],
    [{"role": "user", "content": 3}],
    {},
    {"messages": []},
    {"prompt_tokens": "ten"},
]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key and index path in a JSON value, plus one unknown key in each object."""
    if isinstance(obj, dict):
        yield (*prefix, "unknown_field")
        for key, value in obj.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _variants(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The event with each of its fields set to each odd value in turn, or deleted."""
    for path in _paths(event):
        for value in [*ODD_VALUES, KeyError]:
            variant = copy.deepcopy(event)
            *parents, last = path
            holder = variant
            for step in parents:
                holder = holder[step]
            if value is KeyError:
                if isinstance(holder, dict):
                    holder.pop(last, None)
            else:
                holder[last] = value
            yield variant


def test_the_fast_gate_passes_only_what_the_full_check_passes_with_the_same_key() -> None:
    # The reader trusts the gate (msgspec, in C) for most lines and the full check only for the
    # rest: a line the gate lets through that the check would refuse would be silently wrong.
    usual = [
        documented_event(),
        documented_event(None, content=None, error={"type": "RateLimitError"}),
        flat_event(),
    ]
    events = [*usual, {**flat_event(), "tag": None, "metadata": {"tags": 3}}]
    gated = checked = 0
    for event in events:
        for variant in _variants(event):
            line = json.dumps(variant).encode()  # orjson cannot write ints past 64 bits
            key = gate(line)
            errors: list[str] = []
            full_key = check_event(orjson.loads(line), errors)
            if key is not None:
                gated += 1
                assert errors == [], (variant, errors)
                assert key == full_key, variant
            checked += 1
    # The gate is not vacuous: the usual lines (unchanged fields, unknown fields) go through it.
    assert gated > checked // 4
    for event in usual:
        assert gate(orjson.dumps(event)) is not None


def test_a_line_orjson_cannot_parse_is_a_bad_line_wherever_its_fault_lies(
    data_folder: Path,
) -> None:
    # The gate leaves much of a line unbuilt (unknown fields, the messages' text), where msgspec
    # does not check UTF-8; orjson, which parses the line again for the metrics, refuses it:
    # such a line must be named at collection, not break its cases later.
    good = orjson.dumps(documented_event("r0"))
    in_unknown_field = good.replace(b'"input":{', b'"input":{"x":"\xff",')
    in_content = good.replace(b'"content":"', b'"content":"\xfe', 1)
    # A number past a double's range, in parts (which the gate otherwise leaves unbuilt).
    parts = b'[{"type":"text","text":"a","n":1e999}]'
    in_message_parts = good.replace(b'"content":"Hello!"', b'"content":' + parts, 1)
    in_output_parts = good.replace(
        b'"content":"Hello! How can I help you today?"', b'"content":' + parts, 1
    )
    lines = [good, in_unknown_field, in_content, in_message_parts, in_output_parts]
    assert len(set(lines)) == len(lines)
    (data_folder / "events" / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    log = read_events(data_folder)
    assert [e.id for e in log.events] == ["r0"]
    assert [(b.source.line, b.reason[:20]) for b in log.bad_lines] == [
        (2, "not valid UTF-8 (byt"),
        (3, "not valid UTF-8 (byt"),
        (4, "not valid JSON (numb"),
        (5, "not valid JSON (numb"),
    ]


# --- lines are read again from their files ----------------------------------------------------


def test_an_event_reads_its_line_again_from_its_file_or_keeps_it_for_gz(
    data_folder: Path,
) -> None:
    one, two = (orjson.dumps(documented_event(r)) for r in ("r1", "r2"))
    (data_folder / "events" / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + one + b"\r\n\n" + two)
    write_lines(data_folder / "events" / "b.jsonl.gz", [documented_event("r3")])
    log = read_events(data_folder)
    assert [e.line for e in log.events] == [
        one + b"\r\n",
        two,
        orjson.dumps(documented_event("r3")) + b"\n",
    ]
    assert [e.raw["metadata"]["request_id"] for e in log.events] == ["r1", "r2", "r3"]


def test_appending_to_an_events_file_during_a_run_is_fine(data_folder: Path) -> None:
    path = write_lines(data_folder / "events" / "a.jsonl", [documented_event("r1")])
    [event] = read_events(data_folder).events
    with path.open("ab") as appended:
        appended.write(orjson.dumps(documented_event("r2")) + b"\n")
    assert event.raw["metadata"]["request_id"] == "r1"


@pytest.mark.parametrize("change", ["replaced", "cut"])
def test_an_events_file_rewritten_during_a_run_is_a_clear_error(
    data_folder: Path, change: str
) -> None:
    path = write_lines(data_folder / "events" / "a.jsonl", [documented_event("r1")] * 3)
    event = read_events(data_folder).events[2]
    if change == "replaced":  # what an editor or a rotating logger does
        write_lines(path.with_name("new"), [documented_event("other")]).replace(path)
    else:
        path.write_bytes(path.read_bytes()[:100])
    what = "replaced by another file" if change == "replaced" else "cut short"
    with pytest.raises(EventLineError, match=rf"a\.jsonl:3: the file changed since .* \({what}\)"):
        _ = event.raw


def test_a_file_cut_below_a_line_not_yet_read_again_is_a_clear_error(data_folder: Path) -> None:
    # More than one read-ahead block of lines: the last ones are read after the cut.
    path = write_lines(
        data_folder / "events" / "a.jsonl",
        [documented_event(f"r{n}", content="x" * 2000) for n in range(200)],
    )
    events = read_events(data_folder).events
    assert events[0].raw["metadata"]["request_id"] == "r0"
    with path.open("r+b") as cut:
        cut.truncate(path.stat().st_size // 2)
    with pytest.raises(EventLineError, match=r"a\.jsonl:200: the file changed .* \(cut short\)"):
        _ = events[-1].raw


def _descriptors_open_on(folder: Path) -> int:
    """How many of this process's descriptors are open on files under `folder`."""
    inside = str(folder.resolve()) + os.sep
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the one listing /proc/self/fd, closed since
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(inside)
    return count


def test_reading_lines_again_keeps_few_files_open_and_closing_the_log_closes_them(
    data_folder: Path,
) -> None:
    for n in range(80):
        write_lines(data_folder / "events" / f"{n:03}.jsonl", [documented_event(f"r{n}")])
    log = read_events(data_folder)
    assert [e.raw["metadata"]["request_id"] for e in log.events] == [f"r{n}" for n in range(80)]
    assert 0 < _descriptors_open_on(data_folder) <= 32
    log.close()
    assert _descriptors_open_on(data_folder) == 0


def test_lines_read_again_from_many_threads_are_each_the_right_one(data_folder: Path) -> None:
    # More files than descriptors kept open and lines past one read-ahead block: threads evict
    # each other's descriptors and blocks, and each must still get its own event's line.
    for n in range(40):
        write_lines(
            data_folder / "events" / f"{n:03}.jsonl",
            [documented_event(f"r{n}-{i}", content="x" * 3000) for i in range(100)],
        )
    events = read_events(data_folder).events

    def read_all(thread: int) -> list[bool]:
        start = thread * len(events) // 7
        order = events[start:] + events[:start]
        return [orjson.loads(e.line)["metadata"]["request_id"] == e.id for e in order]

    with ThreadPoolExecutor(max_workers=7) as pool:
        checks = [ok for oks in pool.map(read_all, range(7)) for ok in oks]
    assert len(checks) == 7 * len(events) and all(checks)

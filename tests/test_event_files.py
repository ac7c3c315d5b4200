"""Events files as they are met on disk, through real runs: a bad line is named without being
printed, linked folders are read, a file rewritten during a run is caught, and every message
says what is really wrong."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from pytest_trainloop import read_events
from pytest_trainloop.events import EventLineError
from tests.conftest import Project, documented_event, write_lines

# In-process runs inherit this suite's `filterwarnings = error`; the warnings must only warn.
WARN = ("-W", "default::pytest_trainloop.TrainloopWarning")

METRIC = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def is_hello(event):
    return event.response == "Hello"
"""


def details(project: Project) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = project.results()["suites"]["s"]["metrics"]["is_hello"][
        "details"
    ]
    return rows


# --- a bad line is named, never printed -------------------------------------------------------


@pytest.mark.parametrize("dist", [["-p", "no:xdist"], ["-n2"]], ids=["serial", "-n2"])
def test_a_bad_line_is_shown_by_place_and_reason_without_its_content(
    project: Project, dist: list[str]
) -> None:
    secret = "sk-live-" + "q" * 5000 + "-TAIL-OF-THE-SECRET-PAYLOAD"
    project.events(
        [
            documented_event("a", tags=["t"], content="Hello"),
            b'{"input": {"messages": [{"role": "user", "content": "' + secret.encode() + b"\x01",
        ]
    )
    project.metrics(METRIC)
    result = project.run("--trainloop", *WARN, *dist)
    output = result.stdout.str() + result.stderr.str()
    assert "TAIL-OF-THE-SECRET-PAYLOAD" not in output
    assert "qqqqqqqqqq" not in output
    result.stdout.fnmatch_lines(["*day1.jsonl:2: not valid JSON*"])
    assert result.ret == 0


def test_a_line_with_countless_problems_is_named_with_a_few_of_them(data_folder: Path) -> None:
    bad = documented_event("a")
    bad["input"]["messages"] = [1] * 10_000
    write_lines(data_folder / "events" / "a.jsonl", [bad])
    [bad_line] = read_events(data_folder).bad_lines
    assert bad_line.reason.startswith("input.messages[0]: expected a message object, got int; ")
    assert bad_line.reason.endswith("and 9995 more")
    assert len(bad_line.reason) < 400


# --- linked folders and files -----------------------------------------------------------------


def test_events_in_a_symlinked_folder_are_evaluated(project: Project, tmp_path: Path) -> None:
    shared = write_lines(
        tmp_path / "elsewhere" / "day2.jsonl",
        [documented_event("linked", tags=["t"], content="Hello")],
    ).parent
    project.events([documented_event("local", tags=["t"], content="Hello")])
    (project.data / "events" / "shared").symlink_to(shared, target_is_directory=True)
    project.metrics(METRIC)
    result = project.run("--trainloop", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert sorted(str(row["event_id"]) for row in details(project)) == ["linked", "local"]


def test_a_symlink_loop_is_named_in_a_warning_and_the_run_completes(project: Project) -> None:
    project.events([documented_event("a", tags=["t"], content="Hello")], name="sub/day1.jsonl")
    (project.data / "events" / "sub" / "up").symlink_to("..", target_is_directory=True)
    project.metrics(METRIC)
    result = project.run("--trainloop", *WARN)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*data/events/sub/up: a symbolic link loop*not followed*"])
    assert project.results()["bad_lines"]["count"] == 1


def test_a_dangling_link_is_named_and_a_file_reached_twice_is_read_once(
    data_folder: Path,
) -> None:
    events = data_folder / "events"
    write_lines(events / "day1.jsonl", [documented_event("a"), documented_event("b")])
    (events / "latest.jsonl").symlink_to("day1.jsonl")
    (events / "again").symlink_to(".", target_is_directory=True)  # events/ through a link
    (events / "gone.jsonl").symlink_to("nowhere.jsonl")
    (events / "self").symlink_to("self")
    log = read_events(data_folder)
    assert [e.id for e in log.events] == ["a", "b"]
    assert [Path(p).name for p in log.files] == ["day1.jsonl"]
    assert [(Path(b.source.path).name, b.reason) for b in log.bad_lines] == [
        ("again", "a symbolic link loop (to an enclosing folder): not followed"),
        ("gone.jsonl", "a dangling symbolic link (to nowhere.jsonl): nothing to read"),
        ("self", "a symbolic link loop (it leads back to itself): not followed"),
    ]
    assert all(str(b) == f"{b.source.path}: {b.reason}" for b in log.bad_lines)


def test_two_links_to_one_folder_read_it_once_under_the_first_name(
    data_folder: Path, tmp_path: Path
) -> None:
    shared = write_lines(tmp_path / "shared" / "x.jsonl", [documented_event("x")]).parent
    for name in ("b", "a"):
        (data_folder / "events" / name).symlink_to(shared, target_is_directory=True)
    log = read_events(data_folder)
    assert [e.id for e in log.events] == ["x"]
    assert [e.source.path.rsplit(os.sep, 2)[-2:] for e in log.events] == [["a", "x.jsonl"]]
    assert log.bad_lines == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_a_folder_that_cannot_be_listed_is_named(data_folder: Path) -> None:
    write_lines(data_folder / "events" / "a.jsonl", [documented_event("a")])
    locked = data_folder / "events" / "locked"
    write_lines(locked / "b.jsonl", [documented_event("b")])
    locked.chmod(0)
    try:
        log = read_events(data_folder)
    finally:
        locked.chmod(0o755)
    assert [e.id for e in log.events] == ["a"]
    [bad] = log.bad_lines
    assert bad.source.path.endswith("locked")
    assert bad.reason.startswith("cannot list this folder: ")


# --- a file rewritten during the run ------------------------------------------------------------

REWRITING_METRIC = """
import pathlib
import pytest

REWRITTEN = []

@pytest.mark.trainloop_suite("s", tags=["t"])
def is_hello(event):
    if not REWRITTEN:  # in place, same size: same inode, new bytes
        path = pathlib.Path("data/events/day1.jsonl")
        path.write_bytes(path.read_bytes().replace(b"Hello", b"Jello"))
        REWRITTEN.append(True)
    return event.response == "Hello"
"""


@pytest.mark.parametrize("mode", [[], ["--trainloop-batch"]], ids=["per-case", "batch"])
def test_an_events_file_rewritten_in_place_makes_its_cases_errors_that_say_so(
    project: Project, mode: list[str]
) -> None:
    project.events([documented_event(f"e{n}", tags=["t"], content="Hello") for n in range(5)])
    project.metrics(REWRITING_METRIC)
    result = project.run("--trainloop", "-p", "no:randomly", *mode)
    assert result.ret == 1
    rows = details(project)
    assert [row["event_id"] for row in rows] == [f"e{n}" for n in range(5)]
    assert {row["verdict"] for row in rows} == {"error"}  # none judged on the new bytes
    for n, row in enumerate(rows, 1):
        assert f"day1.jsonl:{n}: the file changed since collection" in str(row["reason"])


@pytest.mark.parametrize("grown", [False, True], ids=["same-size", "grown"])
def test_a_file_rewritten_in_place_is_a_clear_error(data_folder: Path, grown: bool) -> None:
    path = write_lines(
        data_folder / "events" / "a.jsonl",
        [documented_event(r, content="Hello") for r in ("r1", "r2", "r3")],
    )
    hour_ago = path.stat().st_mtime_ns - 3600 * 10**9
    os.utime(path, ns=(hour_ago, hour_ago))  # recorded before the run, as events are
    log = read_events(data_folder)
    rewritten = path.read_bytes().replace(b"Hello", b"Jello")
    with path.open("r+b") as rewrite:  # the same file (inode), new bytes
        rewrite.write(rewritten + (b"\n" * 10 if grown else b""))
    for n, event in enumerate(log.events, 1):
        with pytest.raises(
            EventLineError, match=rf"a\.jsonl:{n}: the file changed since collection \(rewritten\)"
        ):
            _ = event.raw


# --- messages that say what is wrong ----------------------------------------------------------


def test_strict_mode_says_bad_lines_stop_the_run_not_that_they_were_skipped(
    project: Project,
) -> None:
    project.events([documented_event("a", tags=["t"]), b"{broken"])
    project.metrics(METRIC)
    result = project.run("--trainloop", "--trainloop-strict")
    assert result.ret not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    output = result.stdout.str() + result.stderr.str()
    assert "were skipped" not in output
    assert "1 bad line(s) in " in output
    assert "day1.jsonl:2: not valid JSON" in output
    assert "--trainloop-strict makes bad lines an error" in output


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"{}\r{}\r", id="the-whole-file"),
        pytest.param(b"{}\r\n{}\r{}", id="the-last-line"),
        pytest.param(b"{}\r{}\r\n{}\n", id="a-middle-line"),
    ],
)
def test_lines_ended_by_a_lone_cr_are_named_so(data_folder: Path, content: bytes) -> None:
    event = orjson.dumps(documented_event("a"))
    (data_folder / "events" / "a.jsonl").write_bytes(content.replace(b"{}", event))
    [bad] = read_events(data_folder).bad_lines
    assert bad.reason == (
        "lines separated by a lone CR (old Mac line ends): JSON Lines needs LF or CRLF"
    )


def test_a_line_cut_short_after_a_cr_is_still_named_truncated(data_folder: Path) -> None:
    (data_folder / "events" / "a.jsonl").write_bytes(b'{"input": {"messages":\r')
    [bad] = read_events(data_folder).bad_lines
    assert bad.reason == "truncated JSON: the file ends in the middle of this line"


@pytest.mark.parametrize("value", [2**70, -(2**70), 2**64])
def test_an_integer_beyond_64_bits_is_named_out_of_range(data_folder: Path, value: int) -> None:
    line = orjson.dumps(documented_event("a")).replace(
        b'"prompt_tokens":10', b'"prompt_tokens":' + str(value).encode()
    )
    write_lines(data_folder / "events" / "a.jsonl", [line])
    [bad] = read_events(data_folder).bad_lines
    assert bad.reason == (
        "output.usage.prompt_tokens: expected an integer, got one out of range (beyond 64 bits)"
    )

"""The results files: one per run, never overwritten, a summary with the trend, atomic writes."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import Project, documented_event

METRIC = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def is_hello(event):
    return event.response == "Hello"
"""


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


# In-process runs inherit this suite's `filterwarnings = error`; the bad line must only warn.
WARN = ("-W", "default::pytest_trainloop.TrainloopWarning")


@pytest.fixture
def half(project: Project) -> Project:
    project.events(
        [
            documented_event("a", tags=["t"], content="Hello"),
            documented_event("b", tags=["t"], content="Bye"),
            b"{broken",
        ]
    )
    project.metrics(METRIC)
    return project


def test_each_run_writes_its_own_file_even_within_the_same_second(half: Project) -> None:
    half.run("--trainloop", *WARN)
    half.run("--trainloop", *WARN)
    half.run("--trainloop", *WARN)
    files = half.results_files()
    assert len(files) == 3
    assert all(read(path)["summary"]["total"] == 2 for path in files)
    leftovers = [p.name for p in (half.data / "results").iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []


def test_results_files_get_the_mode_of_any_new_file(half: Project) -> None:
    # Dashboards often read them as another user: not the owner-only mode of a temporary file.
    half.run("--trainloop", *WARN)
    umask = os.umask(0)
    os.umask(umask)
    [run_file] = half.results_files()
    for path in (run_file, half.data / "results" / "evaluation_summary.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_the_results_follow_the_spec_and_add_what_the_design_asks(half: Project) -> None:
    result = half.run("--trainloop", *WARN)
    [path] = half.results_files()
    result.stdout.fnmatch_lines([f"results: {path}"])
    data = read(path)
    assert data["format_version"] == 1
    assert datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    metric = data["suites"]["s"]["metrics"]["is_hello"]
    assert {k: metric[k] for k in ("passed", "failed", "errors", "total", "score")} == {
        "passed": 1,
        "failed": 1,
        "errors": 0,
        "total": 2,
        "score": 0.5,
    }
    assert data["suites"]["s"]["overall_score"] == 0.5
    assert data["summary"]["overall_score"] == 0.5
    assert data["bad_lines"]["count"] == 1
    assert data["bad_lines"]["lines"][0].endswith(
        "day1.jsonl:3: not valid JSON (unexpected character, expected a string key: "
        "line 1 column 2 (char 1))"
    )
    assert data["configuration"]["data_folder"] == str(half.data)
    assert data["gates"] == []
    assert data["gates_held"] is True


def test_the_summary_file_holds_the_latest_run_and_the_trend(half: Project) -> None:
    results_dir = half.data / "results"
    results_dir.mkdir(parents=True)
    old = datetime.now(timezone.utc) - timedelta(days=10)
    recent = datetime.now(timezone.utc) - timedelta(days=1)
    for when, score in ((old, 0.1), (recent, 0.25)):
        name = f"evaluation_results_{when:%Y%m%dT%H%M%SZ}.json"
        (results_dir / name).write_bytes(
            orjson.dumps({"timestamp": when.isoformat(), "summary": {"overall_score": score}})
        )
    (results_dir / "evaluation_results_garbage.json").write_text("{not json")
    half.run("--trainloop", *WARN)
    summary = half.summary()
    assert summary["summary"]["overall_score"] == 0.5
    newest = max(half.results_files(), key=lambda path: path.stat().st_mtime)
    assert summary["results_file"] == newest.name
    assert "details" not in summary["suites"]["s"]["metrics"]["is_hello"]
    assert half.results()["suites"]["s"]["metrics"]["is_hello"]["details"]
    assert summary["trend"]["previous_overall_score"] == 0.25
    assert summary["trend"]["change"] == 0.25
    assert [h["overall_score"] for h in summary["trend"]["last_7_days"]] == [0.25]


def test_the_trend_carries_on_from_the_previous_summary(half: Project) -> None:
    half.run("--trainloop", *WARN)
    for path in half.results_files():
        path.unlink()  # the history lives on in the summary, not only in the run files
    half.run("--trainloop", *WARN)
    half.run("--trainloop", *WARN)
    trend = half.summary()["trend"]
    assert [h["overall_score"] for h in trend["last_7_days"]] == [0.5, 0.5]
    assert trend["change"] == 0.0


def test_results_option_writes_the_run_where_asked(half: Project) -> None:
    half.run("--trainloop", "--trainloop-results", "out/run.json", *WARN)
    assert read(half.path / "out" / "run.json")["summary"]["total"] == 2
    assert not (half.data / "results").exists()


def test_bad_lines_warn_with_their_place_and_strict_makes_them_an_error(half: Project) -> None:
    result = half.run("--trainloop", *WARN)
    result.stdout.fnmatch_lines(
        [
            "trainloop: 2 events in 1 files, 1 bad lines",
            "*TrainloopWarning: 1 bad line(s) in *data/events were skipped:",
            "*day1.jsonl:3: not valid JSON*",
        ]
    )
    result = half.run("--trainloop", "--trainloop-strict", *WARN)
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*1 bad line(s) in*", "*--trainloop-strict makes bad lines an error*"]
    )


def test_every_case_keeps_its_id_verdict_and_score_and_failures_keep_their_snippets(
    project: Project, dist: list[str]
) -> None:
    project.events(
        [
            documented_event("a", tags=["t"], content="Hello"),
            documented_event("b", tags=["t"], content="Bye"),
            documented_event("c", tags=["t"], content="boom"),
        ]
    )
    project.metrics("""
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def scored(event):
    if event.response == "boom":
        raise ValueError("broken")
    return 0.9 if event.response == "Hello" else 0.1
""")
    for batch in ([], ["--trainloop-batch"]):
        project.run("--trainloop", *dist, *batch)
        details = project.results()["suites"]["s"]["metrics"]["scored"]["details"]
        assert details == [
            {"event_id": "a", "verdict": "passed", "score": 0.9},
            {
                "event_id": "b",
                "verdict": "failed",
                "score": 0.1,
                "reason": "score 0.1 is below the threshold 0.5",
                "input": "Hello!",
                "output": "Bye",
            },
            {
                "event_id": "c",
                "verdict": "error",
                "reason": "ValueError: broken",
                "input": "Hello!",
                "output": "boom",
            },
        ]


def test_a_killed_write_leaves_no_temporary_file_behind_the_next_run(half: Project) -> None:
    results_dir = half.data / "results"
    results_dir.mkdir(parents=True)
    # What a run killed while writing leaves: a complete-looking results file under a temp name.
    stale = results_dir / ".tmp-k1ll3d_x.json"
    stale.write_bytes(
        orjson.dumps(
            {
                "timestamp": datetime.now(timezone.utc).isoformat(),
                "complete": True,
                "summary": {"overall_score": 0.99},
            }
        )
    )
    hour_ago = datetime.now().timestamp() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    # A temp file of a run writing right now, and files that only look like ours: all kept.
    kept = [
        results_dir / ".tmp-writing1.json",
        results_dir / ".tmp-short.json",
        results_dir / "notes.tmp-abcdefgh.json",
        results_dir / ".tmp-abcdefgh.json.bak",
    ]
    for path in kept:
        path.write_text("{}")
        if path.name != ".tmp-writing1.json":
            os.utime(path, (hour_ago, hour_ago))
    future = datetime.now().timestamp() + 3600
    os.utime(kept[0], (future, future))
    half.run("--trainloop", *WARN)
    assert not stale.exists()
    assert all(path.exists() for path in kept)
    assert half.summary()["trend"]["last_7_days"] == []  # the temp file was never read


@pytest.mark.parametrize(
    ("damage", "what"),
    [
        pytest.param(
            lambda s: s["trend"]["last_7_days"][0].pop("overall_score"),
            "trend.last_7_days[0].overall_score is missing",
            id="no-score",
        ),
        pytest.param(
            lambda s: s["trend"]["last_7_days"].__setitem__(0, 5),
            "trend.last_7_days[0] is a number, not an object",
            id="entry-not-an-object",
        ),
        pytest.param(
            lambda s: s["trend"]["last_7_days"][0].__setitem__("overall_score", "0.5"),
            "trend.last_7_days[0].overall_score is a string, not a number or null",
            id="score-a-string",
        ),
        pytest.param(
            lambda s: s["trend"]["last_7_days"][0].__setitem__("timestamp", 7),
            "trend.last_7_days[0].timestamp is a number, not a string",
            id="time-a-number",
        ),
        pytest.param(
            lambda s: s["trend"].__setitem__("last_7_days", {}),
            "trend.last_7_days is an object, not an array",
            id="trend-not-an-array",
        ),
        pytest.param(
            lambda s: s["summary"].pop("overall_score"),
            "summary.overall_score is missing",
            id="no-overall-score",
        ),
        pytest.param(lambda s: s.clear(), "trend is missing", id="empty-object"),
    ],
)
def test_a_damaged_summary_warns_and_the_trend_is_rebuilt_from_the_run_files(
    half: Project, damage: Any, what: str
) -> None:
    half.run("--trainloop", *WARN)
    half.run("--trainloop", *WARN)
    path = half.data / "results" / "evaluation_summary.json"
    summary = orjson.loads(path.read_bytes())
    damage(summary)
    path.write_bytes(orjson.dumps(summary))
    files = half.results_files()
    result = half.run("--trainloop", *WARN)
    assert result.ret == 1
    assert (
        f"TrainloopWarning: {path} is damaged ({what}); the trend was rebuilt from the run "
        "files and the summary rewritten" in result.stdout.str()
    )
    [new] = [p for p in half.results_files() if p not in files]
    assert read(new)["summary"]["total"] == 2
    assert half.summary()["results_file"] == new.name
    assert [h["overall_score"] for h in half.summary()["trend"]["last_7_days"]] == [0.5, 0.5]


@pytest.mark.parametrize(
    ("text", "what"),
    [
        (b"{not json", "(not JSON: "),
        (b"[1, 2]", "(the file is an array, not an object)"),
        (b"\xff\xfe", "(not JSON: "),
    ],
)
def test_a_summary_that_is_not_a_json_object_warns_and_is_replaced(
    half: Project, text: bytes, what: str
) -> None:
    half.run("--trainloop", *WARN)
    path = half.data / "results" / "evaluation_summary.json"
    path.write_bytes(text)
    result = half.run("--trainloop", *WARN)
    assert f"TrainloopWarning: {path} is damaged {what}" in result.stdout.str()
    assert [h["overall_score"] for h in half.summary()["trend"]["last_7_days"]] == [0.5]

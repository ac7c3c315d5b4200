"""The results JSON without pytest: built the same whatever order cases came in, written
atomically without overwriting another run, the summary's trend, and what a damaged summary or a
killed write leaves behind."""

from __future__ import annotations

import os
import stat
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from pytest_trainloop.atomic import remove_stale_temp_files, write_atomically
from pytest_trainloop.report.view import failing_cases, run_view
from pytest_trainloop.results import SUMMARY_NAME, build, dumps, write
from pytest_trainloop.summary import Gate, Tally

NOW = datetime(2024, 1, 15, 14, 30, 25, 123456, tzinfo=timezone.utc)
STARTED = NOW.timestamp()


def count(tally: Tally, suite: str, metric: str, event_id: str, kind: str, **more: Any) -> None:
    tally.metric(suite, metric).count(
        event_id=event_id,
        kind=kind,
        reason=more.get("reason", ""),
        score=more.get("score"),
        input=more.get("input", ""),
        output=more.get("output", ""),
        judge_votes=None,
    )


def results_scoring(passed: int, failed: int, now: datetime = NOW, partial: bool = False) -> Any:
    """The results of a run of one metric with that many passes and failures."""
    tally = Tally()
    for i in range(passed + failed):
        count(tally, "s", "m", f"e{i}", "passed" if i < passed else "failed")
    return build(tally, [], now, [], {}, ["-k"] if partial else [])


def read_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


# --- build --------------------------------------------------------------------------------------


def test_the_same_cases_in_any_order_build_the_same_bytes() -> None:
    cases = [
        ("t", "z", "e2", "passed"),
        ("s", "b", "e9", "failed"),
        ("s", "b", "e1", "passed"),
        ("s", "a", "e5", "error"),
        ("s", "a", "e3", "passed"),
    ]
    built = []
    for ordered in (cases, cases[::-1]):
        tally = Tally()
        for case in ordered:
            count(tally, *case)
        built.append(dumps(build(tally, [], NOW, [], {}, [])))
    assert built[0] == built[1]
    results = orjson.loads(built[0])
    assert list(results["suites"]) == ["s", "t"]
    assert list(results["suites"]["s"]["metrics"]) == ["a", "b"]


def test_details_are_sorted_by_event_id() -> None:
    tally = Tally()
    for event_id in ("req_c", "req_a", "req_b"):
        count(tally, "s", "m", event_id, "passed")
    details = build(tally, [], NOW, [], {}, [])["suites"]["s"]["metrics"]["m"]["details"]
    assert [d["event_id"] for d in details] == ["req_a", "req_b", "req_c"]


def test_scores_are_rounded_to_four_places() -> None:
    tally = Tally()
    for i, kind in enumerate(("passed", "failed", "failed")):
        count(tally, "s", "third", f"e{i}", kind)  # 1/3
    for i, kind in enumerate(("passed", "passed", "failed")):
        count(tally, "s", "two_thirds", f"e{i}", kind)  # 2/3
    gates = [Gate("fail_under", None, None, 0.6, 0.5)]
    results = build(tally, gates, NOW, [], {}, [])
    metrics = results["suites"]["s"]["metrics"]
    assert (metrics["third"]["score"], metrics["two_thirds"]["score"]) == (0.3333, 0.6667)
    assert results["suites"]["s"]["overall_score"] == 0.5
    assert results["summary"]["overall_score"] == results["summary"]["pass_rate"] == 0.5
    assert results["gates"][0]["score"] == 0.5


def test_a_metric_carries_its_counts_bounds_and_judge_usage() -> None:
    tally = Tally()
    count(tally, "s", "m", "e1", "passed", score=0.9)
    count(tally, "s", "m", "e2", "failed", reason="rude", input="Hi", output="Go away")
    count(tally, "s", "m", "e3", "error", reason="ValueError: x")
    metric = tally.metric("s", "m")
    metric.threshold, metric.min_score, metric.max_drop = 0.7, 0.5, 0.1
    metric.judge_usage = {"gpt-4o-mini": {"calls": 2}}
    built = build(tally, [], NOW, [], {}, [])["suites"]["s"]["metrics"]["m"]
    assert {k: v for k, v in built.items() if k != "details"} == {
        "passed": 1,
        "failed": 1,
        "errors": 1,
        "total": 3,
        "score": 0.3333,
        "threshold": 0.7,
        "min_score": 0.5,
        "max_drop": 0.1,
        "judge_usage": {"gpt-4o-mini": {"calls": 2}},
    }
    assert [d["verdict"] for d in built["details"]] == ["passed", "failed", "error"]


def test_the_summary_counts_every_case_the_unattributed_and_the_left_out() -> None:
    tally = Tally(unattributed_errors=1, left_out_total=2)
    count(tally, "s", "a", "e1", "passed")
    count(tally, "s", "a", "e2", "failed")
    count(tally, "t", "b", "e1", "passed")
    summary = build(tally, [], NOW, [], {}, [])["summary"]
    assert summary == {
        "overall_score": 0.5,
        "pass_rate": 0.5,
        "passed": 2,
        "failed": 1,
        "errors": 1,
        "total": 4,
        "unattributed_errors": 1,
        "left_out_errors": 2,
        "suites": 2,
        "metrics": 2,
    }


def test_a_suite_carries_its_tags_left_out_failed_calls_and_judge_usage() -> None:
    tally = Tally(suite_tags={"s": ["a", "b"]}, left_out_errors={"s": 2})
    count(tally, "s", "m", "e1", "passed")
    tally.metric("s", "m").judge_usage = {"claude": {"calls": 3}}
    suite = build(tally, [], NOW, [], {}, [])["suites"]["s"]
    assert {k: v for k, v in suite.items() if k != "metrics"} == {
        "overall_score": 1.0,
        "judge_usage": {"claude": {"calls": 3}},
        "tags": ["a", "b"],
        "left_out_errors": 2,
    }


def test_a_suite_that_selected_no_event_is_listed_as_skipped_with_why() -> None:
    tally = Tally(
        suite_tags={"quiet": ["x"]},
        left_out_errors={"quiet": 3},
        empty_suites={"quiet": "no event has the tags ['x']"},
    )
    assert build(tally, [], NOW, [], {}, [])["suites"] == {
        "quiet": {
            "metrics": {},
            "overall_score": None,
            "tags": ["x"],
            "left_out_errors": 3,
            "skipped": "no event has the tags ['x']",
        }
    }


def test_the_run_says_whether_it_was_complete_and_what_narrowed_it() -> None:
    assert build(Tally(), [], NOW, [], {}, [])["complete"] is True
    partial = build(Tally(), [], NOW, [], {}, ["-k req_1", "-x"])
    assert (partial["complete"], partial["partial"]) == (False, ["-k req_1", "-x"])


def test_gates_bad_lines_and_timestamp_are_written_as_users_read_them() -> None:
    gates = [Gate("min_score", "s", "m", 0.8, 2 / 3), Gate("fail_under", None, None, 0.5, 0.5)]
    bad = ["events/day1.jsonl:3: not valid JSON"]
    results = build(Tally(), gates, NOW, bad, {"fail_under": 0.5}, [])
    assert results["timestamp"] == "2024-01-15T14:30:25.123Z"
    assert results["gates"] == [
        {
            "gate": "min_score",
            "suite": "s",
            "metric": "m",
            "bound": 0.8,
            "score": 0.6667,
            "held": False,
        },
        {
            "gate": "fail_under",
            "suite": None,
            "metric": None,
            "bound": 0.5,
            "score": 0.5,
            "held": True,
        },
    ]
    assert results["gates_held"] is False
    assert results["bad_lines"] == {"count": 1, "lines": bad}
    assert results["configuration"] == {"fail_under": 0.5}
    assert results["format_version"] == 1


def test_the_timestamp_keeps_three_digits_of_milliseconds() -> None:
    early = datetime(2024, 1, 15, 14, 30, 25, 7999, tzinfo=timezone.utc)
    assert build(Tally(), [], early, [], {}, [])["timestamp"] == "2024-01-15T14:30:25.007Z"


def test_a_run_without_gates_holds_its_gates() -> None:
    assert build(Tally(), [], NOW, [], {}, [])["gates_held"] is True


# --- writing atomically -------------------------------------------------------------------------


def test_a_write_makes_its_folders_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "out.json"
    assert write_atomically(path, b"{}\n") == path
    assert path.read_bytes() == b"{}\n"
    assert os.listdir(path.parent) == ["out.json"]


def test_a_write_replaces_the_file_unless_exclusive(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    write_atomically(path, b"old")
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new"


def test_an_exclusive_write_never_overwrites_but_numbers_the_next_file(tmp_path: Path) -> None:
    path = tmp_path / "evaluation_results_20240115T143025Z.json"
    written = [write_atomically(path, data, exclusive=True) for data in (b"1", b"2", b"3")]
    assert [p.name for p in written] == [
        "evaluation_results_20240115T143025Z.json",
        "evaluation_results_20240115T143025Z_2.json",
        "evaluation_results_20240115T143025Z_3.json",
    ]
    assert [p.read_bytes() for p in written] == [b"1", b"2", b"3"]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in written)


def test_a_written_file_gets_the_mode_any_new_file_gets(tmp_path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    path = write_atomically(tmp_path / "out.json", b"{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# --- stale temporary files ----------------------------------------------------------------------


def test_a_killed_writes_temporary_file_older_than_the_run_is_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".tmp-ab12_xyz.json"
    stale.write_bytes(b"half a fi")
    os.utime(stale, (STARTED - 60, STARTED - 60))
    remove_stale_temp_files(tmp_path, STARTED)
    assert not stale.exists()


def test_files_that_are_not_old_temporary_files_of_ours_are_kept(tmp_path: Path) -> None:
    kept = {
        ".tmp-ab12xyz9.json": "another run writing now",
        ".tmp-ab12xyz.json": "seven random characters",
        ".tmp-ab12xyz99.json": "nine",
        ".tmp-AB12XYZ9.json": "upper case: not mkstemp's",
        ".tmp-ab12xyz9.json.bak": "another suffix",
        "evaluation_results_20240115T143025Z.json": "a run's results",
    }
    for name in kept:
        (tmp_path / name).write_bytes(b"{}")
        if name != ".tmp-ab12xyz9.json":
            os.utime(tmp_path / name, (STARTED - 60, STARTED - 60))
    os.utime(tmp_path / ".tmp-ab12xyz9.json", (STARTED + 1, STARTED + 1))
    folder = tmp_path / ".tmp-folder12.json"
    folder.mkdir()
    os.utime(folder, (STARTED - 60, STARTED - 60))
    link = tmp_path / ".tmp-linked12.json"
    link.symlink_to(tmp_path / "evaluation_results_20240115T143025Z.json")
    remove_stale_temp_files(tmp_path, STARTED)
    assert sorted(os.listdir(tmp_path)) == sorted([*kept, folder.name, link.name])


def test_removing_stale_files_from_a_missing_folder_does_nothing(tmp_path: Path) -> None:
    remove_stale_temp_files(tmp_path / "missing", STARTED)
    assert not (tmp_path / "missing").exists()


# --- the run's file, the summary and its trend -------------------------------------------------


def test_a_complete_run_writes_its_file_and_a_summary_without_details(tmp_path: Path) -> None:
    written = write(results_scoring(1, 1), tmp_path, NOW, None, STARTED)
    assert written.path == tmp_path / "evaluation_results_20240115T143025Z.json"
    assert (written.summary_written, written.damaged_summary) == (True, None)
    run = read_json(written.path)
    assert run["suites"]["s"]["metrics"]["m"]["details"]
    summary = read_json(tmp_path / SUMMARY_NAME)
    assert "details" not in summary["suites"]["s"]["metrics"]["m"]
    assert summary["results_file"] == written.path.name
    assert summary["trend"] == {
        "previous_overall_score": None,
        "change": None,
        "last_7_days": [],
    }


def test_two_runs_in_the_same_second_both_keep_their_results(tmp_path: Path) -> None:
    first = write(results_scoring(1, 1), tmp_path, NOW, None, STARTED)
    second = write(results_scoring(1, 0), tmp_path, NOW, None, STARTED)
    assert second.path.name == "evaluation_results_20240115T143025Z_2.json"
    assert read_json(first.path)["summary"]["overall_score"] == 0.5
    assert read_json(tmp_path / SUMMARY_NAME)["results_file"] == second.path.name


def test_the_trend_holds_the_previous_runs_and_the_change_since_the_last(tmp_path: Path) -> None:
    times = [NOW - timedelta(hours=2), NOW - timedelta(hours=1), NOW]
    for (passed, failed), now in zip([(1, 1), (1, 2), (1, 1)], times, strict=True):
        write(results_scoring(passed, failed, now), tmp_path, now, None, STARTED)
    assert read_json(tmp_path / SUMMARY_NAME)["trend"] == {
        "previous_overall_score": 0.3333,
        "change": 0.1667,  # 0.5 - 0.3333, rounded as scores are
        "last_7_days": [
            {"timestamp": "2024-01-15T12:30:25.123Z", "overall_score": 0.5},
            {"timestamp": "2024-01-15T13:30:25.123Z", "overall_score": 0.3333},
        ],
    }


def test_the_trend_forgets_runs_older_than_a_week(tmp_path: Path) -> None:
    long_ago, lately = NOW - timedelta(days=8), NOW - timedelta(days=6)
    for now in (long_ago, lately, NOW):
        write(results_scoring(1, 1, now), tmp_path, now, None, STARTED)
    trend = read_json(tmp_path / SUMMARY_NAME)["trend"]
    assert [p["timestamp"] for p in trend["last_7_days"]] == ["2024-01-09T14:30:25.123Z"]


def test_a_partial_run_writes_its_file_but_leaves_the_summary_alone(tmp_path: Path) -> None:
    write(results_scoring(1, 1), tmp_path, NOW - timedelta(hours=1), None, STARTED)
    before = (tmp_path / SUMMARY_NAME).read_bytes()
    written = write(results_scoring(0, 1, partial=True), tmp_path, NOW, None, STARTED)
    assert read_json(written.path)["complete"] is False
    assert written.summary_written is False
    assert (tmp_path / SUMMARY_NAME).read_bytes() == before


def test_without_a_summary_the_trend_is_read_from_the_complete_runs_files(
    tmp_path: Path,
) -> None:
    long_ago = NOW - timedelta(days=8)
    write(results_scoring(0, 1, long_ago), tmp_path, long_ago, None, STARTED)
    earlier = NOW - timedelta(hours=2)
    write(results_scoring(1, 1, earlier), tmp_path, earlier, None, STARTED)
    partly = NOW - timedelta(hours=1)
    write(results_scoring(0, 1, partly, partial=True), tmp_path, partly, None, STARTED)
    (tmp_path / SUMMARY_NAME).unlink()
    (tmp_path / "evaluation_results_20240115T130000Z.json").write_bytes(b"not JSON")
    write(results_scoring(1, 0), tmp_path, NOW, None, STARTED)
    trend = read_json(tmp_path / SUMMARY_NAME)["trend"]
    assert trend["last_7_days"] == [{"timestamp": "2024-01-15T12:30:25.123Z", "overall_score": 0.5}]
    assert (trend["previous_overall_score"], trend["change"]) == (0.5, 0.5)


def test_an_explicit_path_gets_the_results_and_no_summary_is_written(tmp_path: Path) -> None:
    path = tmp_path / "ci" / "run.json"
    written = write(results_scoring(1, 1), tmp_path / "results", NOW, path, STARTED)
    assert (written.path, written.summary_written) == (path, False)
    assert read_json(path)["summary"]["overall_score"] == 0.5
    assert not (tmp_path / "results").exists()


def damaged_summary_says(tmp_path: Path, summary: bytes) -> str | None:
    """What the run says of a previous summary holding `summary`, after checking that the run's
    own file and a fresh summary were written all the same."""
    earlier = NOW - timedelta(hours=1)
    write(results_scoring(1, 3, earlier), tmp_path, earlier, None, STARTED)
    (tmp_path / SUMMARY_NAME).write_bytes(summary)
    written = write(results_scoring(1, 1), tmp_path, NOW, None, STARTED)
    assert read_json(written.path)["summary"]["overall_score"] == 0.5
    trend = read_json(tmp_path / SUMMARY_NAME)["trend"]
    assert trend["previous_overall_score"] == 0.25  # read from the earlier run's own file
    return written.damaged_summary


def test_a_summary_that_is_not_json_is_named_and_the_trend_read_from_run_files(
    tmp_path: Path,
) -> None:
    said = damaged_summary_says(tmp_path, b'{"trend": ')
    assert said is not None and said.startswith("not JSON: ")


def test_a_summary_of_the_wrong_shape_is_named_with_where_it_is_wrong(tmp_path: Path) -> None:
    entry = {"timestamp": "2024-01-15T13:30:25.123Z", "overall_score": 0.25}
    damaged = {
        b"[]": "the file is an array, not an object",
        b"{}": "trend is missing",
        b'{"trend": 3}': "trend is a number, not an object",
        b'{"trend": {"last_7_days": "x"}}': "trend.last_7_days is a string, not an array",
        b'{"trend": {"last_7_days": [null]}}': "trend.last_7_days[0] is null, not an object",
        orjson.dumps({"trend": {"last_7_days": [{**entry, "overall_score": "high"}]}}): (
            "trend.last_7_days[0].overall_score is a string, not a number or null"
        ),
        orjson.dumps({"trend": {"last_7_days": [{**entry, "timestamp": 12}]}}): (
            "trend.last_7_days[0].timestamp is a number, not a string"
        ),
        orjson.dumps({"trend": {"last_7_days": [entry]}}): "timestamp is missing",
    }
    for n, (summary, message) in enumerate(damaged.items()):
        folder = tmp_path / str(n)
        assert damaged_summary_says(folder, summary) == message, summary


# --- the file as written: one case per line, streamed ------------------------------------------


def plain_lists(results: Any) -> Any:
    """`results` with each metric's details as a plain list (as `json.loads` of its file)."""
    return {
        **results,
        "suites": {
            name: {
                **suite,
                "metrics": {
                    metric: {**values, "details": list(values["details"])}
                    for metric, values in suite["metrics"].items()
                },
            }
            for name, suite in results["suites"].items()
        },
    }


def test_the_file_lists_each_case_on_a_line_of_its_own_and_reads_back_the_same() -> None:
    tally = Tally()
    count(tally, "s", "m", "b", "passed")
    count(tally, "s", "m", "a", "failed", reason='no\n"really"', input="in", output="out")
    count(tally, "s", "m", "c", "passed", score=0.75)
    results = build(tally, [], NOW, [], {"limit": None}, [])
    text = dumps(results)
    assert (
        b"""
          "details": [
            {"event_id":"a","verdict":"failed","reason":"no\\n\\"really\\"","input":"in","output":"out"},
            {"event_id":"b","verdict":"passed"},
            {"event_id":"c","verdict":"passed","score":0.75}
          ]
        }
      },
"""
        in text
    )
    assert orjson.loads(text) == orjson.loads(orjson.dumps(plain_lists(results)))


def test_everything_but_the_details_is_written_as_orjson_indents_it() -> None:
    results = build(Tally(), [Gate("fail_under", None, None, 0.5, 1.0)], NOW, ["x:1: bad"], {}, [])
    results["configuration"] = {"nested": {"list": [1, {"a": None}], "empty": {}}, 1: "int key"}
    expected = orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    assert dumps(results) == expected + b"\n"


def test_event_ids_that_need_escaping_are_written_as_valid_json() -> None:
    ids = ['quo"te', "back\\slash", "new\nline", "ünïcode", "tab\there", "del\x7f", "\u2028", "ok"]
    tally = Tally()
    for event_id in ids:
        count(tally, "s", "m", event_id, "passed")
    count(tally, "s", "n", "plain", "passed")
    results = build(tally, [], NOW, [], {}, [])
    assert dumps(results) == dumps(plain_lists(results))  # each id as orjson writes it
    written = orjson.loads(dumps(results))
    details = written["suites"]["s"]["metrics"]["m"]["details"]
    assert [d["event_id"] for d in details] == sorted(ids)
    assert written["suites"]["s"]["metrics"]["n"]["details"] == [
        {"event_id": "plain", "verdict": "passed"}
    ]


@pytest.mark.parametrize("mixed", [True, False], ids=["mixed cases", "plain passes"])
def test_details_given_as_a_plain_list_are_written_the_same_way(mixed: bool) -> None:
    # As a merge of run files builds them: lists of dicts read back from JSON.
    tally = Tally()
    for n in range(10_000):  # more than one block of cases
        if mixed:
            count(tally, "s", "m", f"e{n:05}", "passed" if n % 7 else "failed", score=n / 10_000)
        else:
            count(tally, "s", "m", f"e{n:05}", "passed")
    results = build(tally, [], NOW, [], {}, [])
    assert dumps(plain_lists(results)) == dumps(results)


def test_the_file_is_written_piece_by_piece_never_whole_in_memory(tmp_path: Path) -> None:
    tally = Tally()
    for n in range(150_000):
        count(tally, "s", "m", f"event-{n:08}", "passed")
    results = build(tally, [], NOW, [], {}, [])
    tracemalloc.start()
    try:
        written = write(results, tmp_path, NOW, None, STARTED)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = written.path.stat().st_size
    assert size > 9_000_000
    assert peak < size / 3  # a block of cases and the file's buffer
    assert len(read_json(written.path)["suites"]["s"]["metrics"]["m"]["details"]) == 150_000


def test_a_write_that_breaks_half_way_leaves_the_file_before_it_and_no_temporary(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.json"
    path.write_bytes(b"the previous run's\n")
    results = results_scoring(3, 1)
    results["suites"]["s"]["metrics"]["m"]["details"] = [{"event_id": "e0"}, object()]
    with pytest.raises(TypeError):
        write(results, tmp_path, NOW, path, STARTED)
    assert path.read_bytes() == b"the previous run's\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_metrics_of_the_same_events_each_list_their_own_cases_by_event_id() -> None:
    tally = Tally()
    for event_id in ("e3", "e1", "e2"):
        count(tally, "s", "a", event_id, "passed")
        count(tally, "s", "b", event_id, "failed" if event_id == "e1" else "passed")
    for event_id in ("e2", "e3", "e1"):  # the same ids, counted in another order
        count(tally, "s", "c", event_id, "failed" if event_id == "e2" else "passed")
    metrics = build(tally, [], NOW, [], {}, [])["suites"]["s"]["metrics"]
    verdicts = {
        name: [(d["event_id"], d["verdict"]) for d in metrics[name]["details"]]
        for name in ("a", "b", "c")
    }
    assert verdicts == {
        "a": [("e1", "passed"), ("e2", "passed"), ("e3", "passed")],
        "b": [("e1", "failed"), ("e2", "passed"), ("e3", "passed")],
        "c": [("e1", "passed"), ("e2", "failed"), ("e3", "passed")],
    }


def test_the_report_views_read_a_run_as_built_as_they_read_its_file() -> None:
    # The session renders its reports from the built results, whose details are made as read.
    tally = Tally()
    count(tally, "s", "m", "e2", "passed")
    count(tally, "s", "m", "e1", "failed", reason="too short")
    built = build(tally, [], NOW, [], {}, [])
    from_memory = [(c.event_id, c.reason) for c in failing_cases(run_view(built))]
    from_file = [
        (c.event_id, c.reason) for c in failing_cases(run_view(orjson.loads(dumps(built))))
    ]
    assert from_memory == from_file == [("e1", "too short")]

"""Batch mode: one test per chunk of events, the same results JSON as one test per event."""

from __future__ import annotations

import pytest

from tests.conftest import (
    EVERY_VERDICT_METRICS,
    Project,
    comparable,
    documented_event,
    make_every_verdict_events,
)


def results_json(project: Project, *args: str) -> tuple[pytest.RunResult, dict[str, object]]:
    result = project.run("--trainloop", *args)
    return result, comparable(project.results())


@pytest.mark.parametrize("dist", [[], ["-n2"]])
def test_batch_and_per_case_give_identical_results(project: Project, dist: list[str]) -> None:
    make_every_verdict_events(project)
    project.metrics(EVERY_VERDICT_METRICS)
    per_case_run, per_case = results_json(project, *dist)
    batch_run, batch = results_json(
        project, "--trainloop-batch", "--trainloop-batch-size", "5", *dist
    )
    assert batch == per_case
    assert batch_run.ret == per_case_run.ret == 1
    # 26 events of tag a in chunks of 5, 9 of tag b in chunks of 5: 6 + 2 tests
    assert (
        batch_run.parseoutcomes().get("failed", 0) + batch_run.parseoutcomes().get("passed", 0) == 8
    )


def test_a_batch_test_fails_for_untolerated_failures_and_lists_them(project: Project) -> None:
    project.events(
        [
            documented_event(f"e{i}", tags=["t"], content="Hello" if i % 3 else "Bye")
            for i in range(9)
        ]
    )
    project.metrics("""
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def is_hello(event):
    return event.response == "Hello", "not hello"
""")
    result = project.run("--trainloop", "--trainloop-batch", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*is_hello[[]batch-1-of-1[]] FAILED*",
            "s/is_hello: 3 failed and 0 errors of 9 events",
            "  [[]e0[]] failed: not hello",
        ]
    )


def test_tolerated_failures_make_a_batch_xfailed_and_gates_still_decide(
    project: Project,
) -> None:
    project.events(
        [
            documented_event(f"e{i}", tags=["t"], content="Hello" if i % 4 else "Bye")
            for i in range(8)
        ]
    )
    for bound, code in (("0.7", 0), ("0.8", 1)):
        project.metrics(f"""
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"], min_score={bound})
def is_hello(event):
    return event.response == "Hello"
""")
        result = project.run("--trainloop", "--trainloop-batch", "-rx")
        assert result.ret == code
        result.assert_outcomes(xfailed=1)
        result.stdout.fnmatch_lines(["XFAIL * - tolerated by min_score=*: 2 of 8 events failed"])


def test_a_broken_fixture_makes_every_event_of_the_batch_an_error(project: Project) -> None:
    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(7)])
    project.metrics("""
import pytest

@pytest.fixture
def broken():
    raise OSError("no model")

@pytest.mark.trainloop_suite("s", tags=["t"])
def m(event, broken):
    pass
""")
    _, per_case = results_json(project)
    _, batch = results_json(project, "--trainloop-batch", "--trainloop-batch-size", "3")
    assert batch == per_case
    metric = batch["suites"]["s"]["metrics"]["m"]  # type: ignore[index]
    assert (metric["errors"], metric["total"]) == (7, 7)
    assert metric["details"][6] == {
        "event_id": "e6",
        "verdict": "error",
        "reason": "error in setup: OSError: no model",
        "input": "",
        "output": "",
    }


def test_a_chunk_stopped_before_its_metric_ran_counts_each_event_an_error(
    project: Project,
) -> None:
    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(5)])
    project.metrics(
        'import pytest\n\n@pytest.mark.trainloop_suite("s", tags=["t"])\ndef m(event):\n    pass\n'
    )
    project.pytester.makeconftest("""
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    raise RuntimeError("the sandbox is down")
""")
    _, per_case = results_json(project)
    result, batch = results_json(project, "--trainloop-batch", "--trainloop-batch-size", "2")
    result.assert_outcomes(failed=3)
    assert batch == per_case
    metric = batch["suites"]["s"]["metrics"]["m"]  # type: ignore[index]
    assert metric["errors"] == 5
    assert {d["reason"] for d in metric["details"]} == {"RuntimeError: the sandbox is down"}


RAISING_METRIC = """
import pytest

def lookup(event):
    return {"e0": True}[event.id]

@pytest.mark.trainloop_suite("s", tags=["t"])
{prefix}def m(event):
    return lookup(event)
"""


@pytest.mark.parametrize("prefix", ["", "async "], ids=["sync", "async"])
def test_a_chunk_with_errors_shows_where_the_first_was_raised_in_the_users_code(
    project: Project, prefix: str
) -> None:
    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(4)])
    project.metrics(RAISING_METRIC.replace("{prefix}", prefix))
    result = project.run("--trainloop", "--trainloop-batch")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "s/m: 0 failed and 3 errors of 4 events",
            "  [[]e1[]] error: KeyError: 'e1'",
            "*",
            "the first exception, raised on event e1:",
            "*return lookup(event)",
            "*",
            '>       return {"e0": True}[event.id]',
            "E       KeyError: 'e1'",
            "test_metrics.py:4: KeyError",
        ]
    )
    output = result.stdout.str()
    assert "batch.py" not in output and "evaluation.py" not in output


PYTEST_OUTCOMES = """
import sys
import pytest

class Abort(BaseException):
    pass

@pytest.mark.trainloop_suite("s", tags=["t"])
{prefix}def m(event):
    if event.id == "e0":
        pytest.fail("gave up")
    if event.id == "e1":
        pytest.xfail("known bad")
    if event.id == "e2":
        sys.exit(3)
    if event.id == "e3":
        raise Abort("from a library")
    return True
"""


@pytest.mark.parametrize("prefix", ["", "async "], ids=["sync", "async"])
def test_pytest_fail_xfail_and_exits_in_a_metric_count_per_event_as_they_do_per_case(
    project: Project, prefix: str
) -> None:
    # pytest makes each of these a test's outcome; in a chunk, each is that event's outcome.
    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(6)])
    project.metrics(PYTEST_OUTCOMES.replace("{prefix}", prefix))
    _, per_case = results_json(project)
    _, batch = results_json(project, "--trainloop-batch")
    assert batch == per_case
    metric = batch["suites"]["s"]["metrics"]["m"]  # type: ignore[index]
    assert [(d["event_id"], d.get("reason")) for d in metric["details"]] == [
        ("e0", "Failed: gave up"),
        ("e2", "SystemExit: 3"),
        ("e3", "Abort: from a library"),
        ("e4", None),
        ("e5", None),
    ]


@pytest.mark.parametrize("batch", [[], ["--trainloop-batch"]], ids=["per-case", "batch"])
def test_pytest_exit_in_a_metric_stops_the_run(project: Project, batch: list[str]) -> None:
    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(3)])
    project.metrics("""
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def m(event):
    pytest.exit("enough", returncode=4)
""")
    result = project.run("--trainloop", *batch)
    assert result.ret == 4
    result.stdout.fnmatch_lines(["*Exit: enough*"])


ASYNC_METRIC = """
import asyncio
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
async def mixed(event):
    await asyncio.sleep(0.01 if event.id == "e2" else 0)  # finishes after the events behind it
    n = int(event.id[1:])
    if n == 0:
        raise ValueError("broken")
    if n == 1:
        pytest.skip("not this one")
    assert n % 3, "a multiple of 3"
    return event.response == "Hello"
"""


@pytest.mark.parametrize(
    ("concurrency", "dist"), [("1", []), ("4", []), ("4", ["-n2"])], ids=["1", "4", "4-n2"]
)
def test_an_async_metric_in_batch_mode_gives_what_it_gives_per_case(
    project: Project, concurrency: str, dist: list[str]
) -> None:
    project.events(
        [
            documented_event(f"e{i}", tags=["t"], content="Hello" if i % 4 else "Bye")
            for i in range(10)
        ]
    )
    project.metrics(ASYNC_METRIC)
    _, per_case = results_json(project)
    _, batch = results_json(
        project,
        "--trainloop-batch",
        "--trainloop-batch-size",
        "6",
        "--trainloop-batch-concurrency",
        concurrency,
        *dist,
    )
    assert batch == per_case
    metric = batch["suites"]["s"]["metrics"]["mixed"]  # type: ignore[index]
    # e0 an error, e1 skipped, e3 and e6 and e9 asserts, e4 and e8 say "Bye".
    assert (metric["passed"], metric["failed"], metric["errors"]) == (3, 5, 1)
    assert [d["event_id"] for d in metric["details"]][:3] == ["e0", "e2", "e3"]
    assert metric["details"][0]["reason"] == "ValueError: broken"


def test_batch_mode_from_the_ini_file_and_a_bad_size(project: Project) -> None:
    from tests.conftest import INI

    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(4)])
    project.metrics(
        'import pytest\n\n@pytest.mark.trainloop_suite("s", tags=["t"])\ndef m(event):\n    pass\n'
    )
    project.pytester.makeini(INI + "trainloop_batch = true\ntrainloop_batch_size = 3\n")
    project.run("--trainloop").assert_outcomes(passed=2)
    for option in ("--trainloop-batch-size", "--trainloop-batch-concurrency"):
        result = project.run("--trainloop", option, "0")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"ERROR: {option} must be at least 1"])
    result = project.run("--trainloop", "--trainloop-batch-concurrency", "many")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --trainloop-batch-concurrency must be a whole number >= 0, got 'many'"]
    )


def test_the_metrics_of_a_chunk_run_one_after_another(project: Project) -> None:
    # So that the chunk's snippets are cut once and held only while its tests run.
    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(5)])
    project.metrics("""
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def first(event):
    pass

@pytest.mark.trainloop_suite("s", tags=["t"])
def second(event):
    pass

def test_plain():
    pass
""")
    result = project.run("--trainloop", "--trainloop-batch", "--trainloop-batch-size", "2", "-v")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(
        [
            "*::first[[]batch-1-of-3[]] PASSED*",
            "*::second[[]batch-1-of-3[]] PASSED*",
            "*::first[[]batch-2-of-3[]] PASSED*",
            "*::second[[]batch-2-of-3[]] PASSED*",
            "*::first[[]batch-3-of-3[]] PASSED*",
            "*::second[[]batch-3-of-3[]] PASSED*",
            "*::test_plain PASSED*",
        ]
    )


def test_each_events_line_is_parsed_once_for_all_the_metrics_of_its_chunk(
    project: Project,
) -> None:
    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(5)])
    project.metrics("""
import pytest

SEEN = {}

@pytest.mark.trainloop_suite("s", tags=["t"])
def first(event):
    SEEN[event.id] = event.raw

@pytest.mark.trainloop_suite("s", tags=["t"])
def second(event):
    return event.raw is SEEN[event.id], "parsed again"
""")
    result = project.run("--trainloop", "--trainloop-batch", "--trainloop-batch-size", "2")
    result.assert_outcomes(passed=6)
    second = project.results()["suites"]["s"]["metrics"]["second"]
    assert (second["passed"], second["failed"]) == (5, 0)

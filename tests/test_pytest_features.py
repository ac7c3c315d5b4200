"""pytest keeps working with the plugin on: selection, reruns, JUnit, strictness, plugins."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.conftest import INI, Project, comparable, documented_event

METRICS = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def is_hello(event):
    return event.response == "Hello", "not hello"

@pytest.mark.trainloop_suite("s", tags=["t"])
def scored(event):
    return 0.25 if event.response == "Bye" else 1.0
"""


@pytest.fixture
def mixed(project: Project) -> Project:
    project.events(
        [
            documented_event("req_a1", tags=["t"], content="Hello"),
            documented_event("req_b2", tags=["t"], content="Bye"),
            documented_event("req_c3", tags=["t"], content="Hello"),
            documented_event("req_d4", tags=["t"], content="Bye"),
        ]
    )
    project.metrics(METRICS)
    return project


def test_k_selects_cases_by_event_id(mixed: Project) -> None:
    result = mixed.run("--trainloop", "-k", "req_b2 or req_c3", "-v")
    result.assert_outcomes(passed=2, failed=2, deselected=4)
    details = mixed.results()["suites"]["s"]["metrics"]["is_hello"]["details"]
    assert [d["event_id"] for d in details] == ["req_b2", "req_c3"]


def test_collect_only_writes_nothing(mixed: Project) -> None:
    result = mixed.run("--trainloop", "--co")
    assert result.ret == 0
    assert not (mixed.data / "results").exists()


def test_last_failed_reruns_just_the_failed_events(mixed: Project) -> None:
    mixed.run("--trainloop")
    result = mixed.run("--trainloop", "--lf", "-v")
    result.assert_outcomes(failed=4)
    failed = sorted(line.split(" ")[0] for line in result.outlines if " FAILED" in line)
    assert failed == [
        "test_metrics.py::is_hello[req_b2]",
        "test_metrics.py::is_hello[req_d4]",
        "test_metrics.py::scored[req_b2]",
        "test_metrics.py::scored[req_d4]",
    ]


def test_exitfirst_stops_at_the_first_failing_case(mixed: Project) -> None:
    result = mixed.run("--trainloop", "-x")
    result.assert_outcomes(passed=1, failed=1)
    assert mixed.results()["summary"]["total"] == 2


def test_junit_xml_carries_suite_metric_event_verdict_and_score(mixed: Project) -> None:
    mixed.run("--trainloop", "--junitxml=out.xml")
    root = ET.parse(mixed.path / "out.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["scored[req_b2]"].iter("property")}
    assert props["trainloop_suite"] == "s"
    assert props["trainloop_metric"] == "scored"
    assert props["trainloop_event"] == "req_b2"
    assert props["trainloop_verdict"] == "failed"
    assert props["trainloop_score"] == "0.25"
    assert cases["scored[req_b2]"].find("failure") is not None


def test_disabling_the_plugin_leaves_a_plain_pytest(mixed: Project) -> None:
    mixed.metrics(METRICS + "\ndef test_plain():\n    pass\n")
    result = mixed.run("-p", "no:trainloop")
    # The metrics are not named test_*, so a plain pytest does not even collect them.
    result.assert_outcomes(passed=1)
    assert not (mixed.data / "results").exists()
    result = mixed.run("-p", "no:trainloop", "--trainloop")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # the option is gone with the plugin


def test_strict_markers_and_warnings_as_errors_give_a_clean_run(mixed: Project) -> None:
    mixed.pytester.makeini(INI + "filterwarnings = error\naddopts = --strict-markers\n")
    mixed.metrics(
        METRICS.replace('"Hello", "not hello"', '"Hello" or event.response == "Bye"').replace(
            "0.25 if", "1.0 if"
        )
    )
    result = mixed.run("--trainloop", "-W", "error")
    assert result.ret == 0
    result.assert_outcomes(passed=8)
    assert "warnings summary" not in result.stdout.str()


def test_random_order_gives_the_same_results(mixed: Project) -> None:
    mixed.run("--trainloop")
    ordered = comparable(mixed.results())
    result = mixed.run("--trainloop", "-p", "randomly", "-p", "no:cacheprovider", random_order=True)
    result.stdout.fnmatch_lines(["Using --randomly-seed=*"])
    assert comparable(mixed.results()) == ordered


def test_pytest_asyncio_in_auto_mode_leaves_metrics_alone(mixed: Project) -> None:
    mixed.pytester.makeini(INI + "asyncio_mode = auto\n")
    mixed.metrics(METRICS + "\nasync def test_async_plain():\n    pass\n")
    result = mixed.run("--trainloop")
    result.assert_outcomes(passed=5, failed=4)
    assert mixed.results()["suites"]["s"]["metrics"]["is_hello"]["failed"] == 2


ASYNC_METRIC = """
import asyncio
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
async def is_hello_later(event):
    await asyncio.sleep(0)
    return event.response == "Hello", "not hello"
"""


@pytest.mark.parametrize("batch", [False, True], ids=["per-case", "batch"])
@pytest.mark.parametrize(
    "asyncio_setup", ["asyncio_mode = auto", "asyncio_mode = strict", "-p no:asyncio"]
)
def test_async_metrics_keep_their_verdict_with_or_without_pytest_asyncio(
    mixed: Project, asyncio_setup: str, batch: bool
) -> None:
    mixed.metrics(ASYNC_METRIC)
    args = ["--trainloop-batch", "--trainloop-batch-size", "3"] if batch else []
    if asyncio_setup.startswith("-p"):
        args += asyncio_setup.split()
    else:
        mixed.pytester.makeini(INI + asyncio_setup + "\n")
    result = mixed.run("--trainloop", *args)
    if batch:  # two chunks, each holding a failure
        result.assert_outcomes(failed=2)
    else:
        result.assert_outcomes(passed=2, failed=2)
    metric = mixed.results()["suites"]["s"]["metrics"]["is_hello_later"]
    assert (metric["passed"], metric["failed"]) == (2, 2)
    assert [d["reason"] for d in metric["details"] if d["verdict"] == "failed"] == ["not hello"] * 2


ASYNC_FIXTURE_AND_METRIC = """
import asyncio
import pytest
import pytest_asyncio

@pytest_asyncio.fixture
async def loop_of_fixture():
    return asyncio.get_running_loop()

@pytest.mark.trainloop_suite("s", tags=["t"])
async def same_loop(event, loop_of_fixture):
    await asyncio.sleep(0)
    return asyncio.get_running_loop() is loop_of_fixture
"""


def test_in_batch_mode_an_async_metric_runs_in_its_async_fixtures_loop(mixed: Project) -> None:
    # An async fixture's client or connection belongs to pytest-asyncio's loop: the chunk's
    # events must be evaluated there, not in a loop of our own.
    mixed.metrics(ASYNC_FIXTURE_AND_METRIC)
    mixed.pytester.makeini(INI + "asyncio_mode = auto\n")
    result = mixed.run("--trainloop", "--trainloop-batch", "--trainloop-batch-size", "3")
    result.assert_outcomes(passed=2)
    assert mixed.results()["suites"]["s"]["metrics"]["same_loop"]["passed"] == 4


@pytest.mark.parametrize("batch", [[], ["--trainloop-batch"]], ids=["per-case", "batch"])
def test_two_identical_runs_write_the_same_bytes_though_reasons_name_functions(
    project: Project, batch: list[str]
) -> None:
    project.events([documented_event(f"req_{c}", tags=["t"], content=c) for c in "abcd"])
    project.metrics("""
import re
import pytest

class Finder:
    pass

@pytest.mark.trainloop_suite("s", tags=["t"], min_score=0.1)
def found(event):
    assert re.search("a", event.response)

@pytest.mark.trainloop_suite("s", tags=["t"])
def breaks(event):
    raise LookupError(f"no {Finder()!r} for {re.search!r}")
""")
    for _ in range(2):  # each in a fresh process: its functions get new addresses
        project.pytester.runpytest_subprocess("-p", "no:randomly", "--trainloop", *batch)
    first, second = (
        [line for line in path.read_bytes().splitlines() if b'"timestamp"' not in line]
        for path in project.results_files()
    )
    assert first == second
    details = project.results()["suites"]["s"]["metrics"]["found"]["details"]
    assert "where None = <function search>('a', 'b')" in details[1]["reason"]
    broke = project.results()["suites"]["s"]["metrics"]["breaks"]["details"]
    assert (
        broke[0]["reason"] == "LookupError: no <test_metrics.Finder object> for <function search>"
    )


def test_junit_xml_shows_a_tolerated_failure_as_skipped_xfail_and_no_none_properties(
    mixed: Project,
) -> None:
    mixed.metrics(
        METRICS.replace('tags=["t"])\ndef is_hello', 'tags=["t"], min_score=0.1)\ndef is_hello')
    )
    result = mixed.run("--trainloop", "--junitxml=out.xml")
    assert result.ret == 1  # `scored` has no gate: its failing cases fail
    root = ET.parse(mixed.path / "out.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    tolerated = cases["is_hello[req_b2]"]
    skipped = tolerated.find("skipped")
    assert skipped is not None and skipped.get("type") == "pytest.xfail"
    assert skipped.get("message") == "tolerated by min_score=0.1: not hello"
    props = {p.get("name"): p.get("value") for p in tolerated.iter("property")}
    assert props["trainloop_verdict"] == "failed"  # the truth, whatever CI calls it
    assert props["trainloop_min_score"] == "0.1"
    assert "trainloop_score" not in props  # a pass/fail verdict has no score
    values = [p.get("value") for p in root.iter("property")]
    assert values and "None" not in values
    passed = {p.get("name") for p in cases["is_hello[req_a1]"].iter("property")}
    assert "trainloop_min_score" in passed and "trainloop_score" not in passed
    unbounded = {p.get("name") for p in cases["scored[req_a1]"].iter("property")}
    assert "trainloop_min_score" not in unbounded and "trainloop_score" in unbounded

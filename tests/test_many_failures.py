"""A run with many failing cases and no gate: pytest's FAILURES section shows the first few in
full and counts the rest, while every count, summary line and JUnit failure stays."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from pytest_trainloop.failures import SHOWN
from tests.conftest import Project, documented_event

METRICS = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["a"])
def answers(event):
    return (event.response == "good", "too short")
"""

PLAIN_TESTS = """
import pytest

@pytest.mark.parametrize("n", range(25))
def test_plain(n):
    assert n < 0, "plain failure"
"""

HEADER = re.compile(r"^_{3,} (.+?) _{3,}$")


def many_failing(project: Project, cases: int, failing: int) -> None:
    project.events(
        documented_event(f"req_{i}", tags=["a"], content="bad" if i < failing else "good")
        for i in range(cases)
    )
    project.metrics(METRICS)
    project.metrics(PLAIN_TESTS, name="test_plain")


def failures_section(result: pytest.RunResult) -> list[str]:
    """The lines of pytest's FAILURES section, up to the next section's title."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"=+ FAILURES =+", line))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("===="))
    return lines[start + 1 : end]


def headers(section: list[str]) -> list[str]:
    return [m.group(1) for line in section if (m := HEADER.match(line))]


@pytest.mark.parametrize("dist", [["-p", "no:xdist"], ["-n2"]], ids=["serial", "-n2"])
def test_300_failing_cases_print_the_first_in_full_and_count_the_rest_and_nothing_else_changes(
    project: Project, dist: list[str]
) -> None:
    many_failing(project, 1000, 300)
    result = project.run("--trainloop", "--junitxml=out.xml", *dist)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes()["failed"] == 325
    assert result.parseoutcomes()["passed"] == 700
    section = failures_section(result)
    shown = headers(section)
    cases = [h for h in shown if h.startswith("answers[")]
    assert len(cases) == SHOWN
    assert sum(f"s/answers[{h[8:-1]}] failed: too short" in section for h in cases) == SHOWN
    # every plain test is still printed in full, those after the cases left out too
    assert sorted(h for h in shown if h.startswith("test_plain")) == sorted(
        f"test_plain[{n}]" for n in range(25)
    )
    assert section.count("E       AssertionError: plain failure") == 25
    assert f"{300 - SHOWN} more failing trainloop cases" in shown
    assert (
        f"The first {SHOWN} of 300 failing trainloop cases are shown in full above; "
        "-vv shows them all."
    ) in section
    assert "The short test summary below lists each one; " in "\n".join(section)
    # pytest's default -rfE still lists every failure (pytest 9 adds our reason to each line)
    summary = [line for line in result.outlines if line.startswith("FAILED ")]
    assert len(summary) == 325
    assert sum(line.startswith("FAILED test_metrics.py::answers[req_") for line in summary) == 300
    result.stdout.fnmatch_lines(["*most common reasons*", "  s/answers: 300x too short"])

    suite = ET.parse(project.path / "out.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "325"
    assert len(suite.findall("testcase/failure")) == 325


def test_very_verbose_prints_every_failing_case_in_full(project: Project) -> None:
    many_failing(project, 100, 30)
    result = project.run("--trainloop", "-vv")

    assert len([h for h in headers(failures_section(result)) if h.startswith("answers[")]) == 30
    assert "more failing trainloop cases" not in result.stdout.str()
    assert result.parseoutcomes()["failed"] == 55


def test_no_more_failing_cases_than_are_shown_prints_them_all_and_no_count(
    project: Project,
) -> None:
    many_failing(project, 100, SHOWN)
    result = project.run("--trainloop")

    assert len([h for h in headers(failures_section(result)) if h.startswith("answers[")]) == SHOWN
    assert "more failing trainloop cases" not in result.stdout.str()


def test_without_the_short_summary_the_count_says_rf_lists_each_case(project: Project) -> None:
    many_failing(project, 100, 30)
    result = project.run("--trainloop", "-rN")

    assert "-rf lists each one; the trainloop section counts them by reason." in result.outlines
    assert not [line for line in result.outlines if line.startswith("FAILED ")]


def test_tb_no_prints_no_failures_section_and_no_count(project: Project) -> None:
    many_failing(project, 100, 30)
    result = project.run("--trainloop", "--tb=no")

    assert "FAILURES" not in result.stdout.str()
    assert "more failing trainloop cases" not in result.stdout.str()
    assert result.parseoutcomes()["failed"] == 55

"""Gates: min_score and --trainloop-fail-under decide the exit code; nothing else is masked."""

from __future__ import annotations

import pytest

from tests.conftest import Project, documented_event

GATED = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"], min_score={bound})
def mostly_hello(event):
    return event.response == "Hello", "not hello"

@pytest.mark.trainloop_suite("s", tags=["t"])
def always(event):
    pass
"""


@pytest.fixture
def three_of_four(project: Project) -> Project:
    """Four events, three of which say Hello: mostly_hello scores 0.75."""
    project.events(
        [documented_event(f"e{i}", tags=["t"], content="Hello" if i else "Bye") for i in range(4)]
    )
    return project


def test_a_held_min_score_tolerates_failures_as_xfailed_and_exits_0(three_of_four: Project) -> None:
    three_of_four.metrics(GATED.format(bound=0.7))
    result = three_of_four.run("--trainloop", "-rx")
    assert result.ret == 0
    result.assert_outcomes(passed=7, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "s  * mostly_hello  3/4 * 0.750  >= 0.7  held",
            "XFAIL test_metrics.py::mostly_hello[[]e0[]] - tolerated by min_score=0.7: not hello",
        ]
    )
    [gate] = three_of_four.results()["gates"]
    assert gate == {
        "gate": "min_score",
        "suite": "s",
        "metric": "mostly_hello",
        "bound": 0.7,
        "score": 0.75,
        "held": True,
    }


@pytest.mark.parametrize("dist", [[], ["-n2"]])
def test_a_missed_min_score_exits_1_with_a_red_line_naming_it(
    three_of_four: Project, dist: list[str]
) -> None:
    three_of_four.metrics(GATED.format(bound=0.8))
    result = three_of_four.run("--trainloop", *dist)
    assert result.ret == 1
    result.assert_outcomes(passed=7, xfailed=1)
    result.stdout.fnmatch_lines(
        ["trainloop gate not met: min_score of s/mostly_hello: score 0.750 < 0.8"]
    )
    assert three_of_four.results()["gates_held"] is False


def test_without_a_gate_a_failing_case_is_a_failing_test(three_of_four: Project) -> None:
    three_of_four.metrics(GATED.replace(", min_score={bound}", ""))
    result = three_of_four.run("--trainloop")
    assert result.ret == 1
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(
        ["FAILED test_metrics.py::mostly_hello[[]e0[]] - s/mostly_hello[[]e0[]] failed: not hello"]
    )


@pytest.mark.parametrize(("bound", "code"), [("0.85", 0), ("0.9", 1)])
def test_fail_under_gates_the_overall_score_and_tolerates_every_metric(
    three_of_four: Project, bound: str, code: int
) -> None:
    three_of_four.metrics(GATED.replace(", min_score={bound}", ""))
    result = three_of_four.run("--trainloop", "--trainloop-fail-under", bound)
    assert result.ret == code
    result.assert_outcomes(passed=7, xfailed=1)  # overall 7/8 = 0.875
    if code:
        result.stdout.fnmatch_lines(
            [f"trainloop gate not met: --trainloop-fail-under: score 0.875 < {bound}"]
        )


def test_an_error_is_never_tolerated(three_of_four: Project) -> None:
    three_of_four.metrics("""
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"], min_score=0.1)
def broken(event):
    if event.response != "Hello":
        raise RuntimeError("metric bug")
""")
    result = three_of_four.run("--trainloop")
    assert result.ret == 1
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: metric bug"])
    assert three_of_four.results()["suites"]["s"]["metrics"]["broken"]["errors"] == 1


def test_a_broken_fixture_makes_the_case_an_error(three_of_four: Project, dist: list[str]) -> None:
    three_of_four.metrics("""
import pytest

@pytest.fixture
def broken():
    raise OSError("no such model")

@pytest.mark.trainloop_suite("s", tags=["t"], min_score=0.1)
def uses_fixture(event, broken):
    pass
""")
    result = three_of_four.run("--trainloop", *dist)
    assert result.ret == 1
    result.assert_outcomes(errors=4)
    metric = three_of_four.results()["suites"]["s"]["metrics"]["uses_fixture"]
    assert (metric["errors"], metric["total"], metric["score"]) == (4, 4, 0.0)
    assert metric["details"][0]["reason"] == "error in setup: OSError: no such model"


def test_a_gate_does_not_mask_a_usage_error_or_an_interrupt(three_of_four: Project) -> None:
    three_of_four.metrics(GATED.format(bound=0.1))
    assert three_of_four.run("--trainloop", "--no-such-option").ret == pytest.ExitCode.USAGE_ERROR
    three_of_four.metrics(
        GATED.format(bound=0.1) + "\ndef test_stop():\n    raise KeyboardInterrupt\n"
    )
    # In a subprocess: an interrupt in an in-process run would stop this test session too.
    result = three_of_four.pytester.runpytest_subprocess("--trainloop", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_no_tests_is_still_exit_5(three_of_four: Project) -> None:
    three_of_four.metrics(GATED.format(bound=0.1))
    assert (
        three_of_four.run("--trainloop", "-k", "nothing_matches").ret
        == pytest.ExitCode.NO_TESTS_COLLECTED
    )


EMPTY = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def found(event):
    pass

@pytest.mark.trainloop_suite("typo", tags=["tt"]{allow})
def lonely(event):
    pass
"""


@pytest.mark.parametrize("dist", [[], ["-n2"]])
def test_a_suite_whose_tags_select_no_event_fails_the_run_with_a_red_line(
    three_of_four: Project, dist: list[str]
) -> None:
    three_of_four.metrics(EMPTY.format(allow=""))
    result = three_of_four.run("--trainloop", *dist)
    assert result.ret == 1
    result.assert_outcomes(passed=4, skipped=1)
    events = three_of_four.data / "events"
    result.stdout.fnmatch_lines(
        [
            f"trainloop: typo/lonely evaluated nothing: no event with tags [[]tt[]] "
            f"(match=any) in {events}; allow_empty=True on its marker accepts that"
        ]
    )
    data = three_of_four.results()
    assert data["gates"] == [
        {
            "gate": "not_empty",
            "suite": "typo",
            "metric": "lonely",
            "bound": 1,
            "score": 0,
            "held": False,
        }
    ]
    assert data["gates_held"] is False


def test_allow_empty_lets_a_suite_select_no_event(three_of_four: Project) -> None:
    three_of_four.metrics(EMPTY.format(allow=", allow_empty=True"))
    result = three_of_four.run("--trainloop")
    assert result.ret == 0
    result.assert_outcomes(passed=4, skipped=1)
    assert "evaluated nothing" not in result.stdout.str()
    data = three_of_four.results()
    assert data["gates"] == [] and data["gates_held"] is True
    assert data["suites"]["typo"]["skipped"].startswith("no event with tags [tt]")


def test_a_gated_metric_left_with_no_case_by_the_runs_selection_fails_the_run(
    three_of_four: Project,
) -> None:
    # Every event is of 2024-01-15: --trainloop-since 2025 leaves both metrics nothing.
    three_of_four.metrics(GATED.format(bound=0.5))
    result = three_of_four.run("--trainloop", "--trainloop-since", "2025-01-01")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "trainloop: s/mostly_hello evaluated nothing: the run's selection left none of "
            "the 4 events with tags [[]t[]] (match=any) in *; allow_empty=True on its marker "
            "accepts that"
        ]
    )
    # The ungated metric is skipped, as the run asked: it does not fail the run.
    assert [g["metric"] for g in three_of_four.results()["gates"]] == ["mostly_hello"]


@pytest.mark.parametrize("option", ["--trainloop-limit", "--trainloop-sample"])
def test_asking_for_zero_events_is_a_usage_error(three_of_four: Project, option: str) -> None:
    three_of_four.metrics(GATED.format(bound=0.5))
    result = three_of_four.run("--trainloop", option, "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {option} must be a whole number >= 1*, got '0'"])
    assert not (three_of_four.data / "results").exists()

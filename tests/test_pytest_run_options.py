"""pytest's own options for choosing what runs work on cases: -k, --co, --lf, -x."""

from __future__ import annotations

from tests.conftest import Project


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

"""A worker that dies mid-run: its case counts as an error of its metric, results still written."""

from __future__ import annotations

from tests.conftest import Project, documented_event


def test_a_crashed_worker_case_is_an_error_and_the_results_are_written(project: Project) -> None:
    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(6)])
    project.metrics("""
import os
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def sometimes_dies(event):
    if event.id == "e3":
        os._exit(1)
""")
    result = project.run("--trainloop", "-n2")
    assert result.ret == 1
    metric = project.results()["suites"]["s"]["metrics"]["sometimes_dies"]
    assert metric["passed"] == 5
    assert metric["errors"] == 1
    [crashed] = [d for d in metric["details"] if d["verdict"] == "error"]
    assert crashed["event_id"] == "e3"
    assert "crashed" in crashed["reason"]

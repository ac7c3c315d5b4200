"""Runs that break under the plugin: a worker that dies, an events file cut while it runs."""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize("batch", [[], ["--trainloop-batch"]])
def test_an_events_file_cut_during_the_run_makes_errors_that_say_so(
    project: Project, batch: list[str]
) -> None:
    path = project.events([documented_event(f"e{i}", tags=["t"]) for i in range(4)])
    project.metrics(f"""
import pytest
from pathlib import Path

@pytest.mark.trainloop_suite("s", tags=["t"])
def cuts_the_file(event):
    if event.id == "e0":
        Path({str(path)!r}).write_bytes(b"")
    return event.response.startswith("Hello")
""")
    result = project.run("--trainloop", *batch)
    assert result.ret == 1
    [metric] = project.results()["suites"]["s"]["metrics"].values()
    assert (metric["passed"], metric["errors"]) == (0, 4)
    reasons = [d["reason"] for d in metric["details"]]
    assert all("the file changed since collection (cut short)" in r for r in reasons)
    # Shown at the metric's own line, without the reader's frames.
    result.stdout.fnmatch_lines(["*day1.jsonl:*: the file changed since collection (cut short)*"])
    assert "pytest_trainloop/events.py" not in result.stdout.str()


def test_in_batch_mode_a_crashed_workers_chunk_keeps_its_event_ids(project: Project) -> None:
    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(6)])
    project.metrics("""
import os
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def sometimes_dies(event):
    if event.id == "e4":
        os._exit(1)
""")
    result = project.run("--trainloop", "--trainloop-batch", "--trainloop-batch-size", "3", "-n2")
    assert result.ret == 1
    metric = project.results()["suites"]["s"]["metrics"]["sometimes_dies"]
    assert (metric["passed"], metric["errors"]) == (3, 3)
    crashed = [d for d in metric["details"] if d["verdict"] == "error"]
    assert [d["event_id"] for d in crashed] == ["e3", "e4", "e5"]
    assert all("crashed" in d["reason"] for d in crashed)

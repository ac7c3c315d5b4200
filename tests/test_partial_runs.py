"""Partial runs: a run narrowed or stopped writes its own results, marked, and leaves the summary
and its trend as they were; only a complete run moves them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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

# Each case of e0..e5; e1 and e4 fail.
EVENTS = [
    documented_event(f"e{i}", tags=["t"], content="Bye" if i in (1, 4) else "Hello")
    for i in range(6)
]

SERIAL_AND_XDIST = pytest.mark.parametrize(
    "dist", [["-p", "no:xdist"], ["-n2"]], ids=["serial", "n2"]
)


@pytest.fixture
def evaluated(project: Project) -> Project:
    """A project after one complete run: the summary and its trend exist."""
    project.events(EVENTS)
    project.metrics(METRIC)
    project.run("--trainloop")
    return project


def summary_bytes(project: Project) -> bytes:
    return (project.data / "results" / "evaluation_summary.json").read_bytes()


def new_results(project: Project, before: list[Path]) -> dict[str, Any]:
    """The one results file written since `before` was listed."""
    [path] = [p for p in project.results_files() if p not in before]
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def test_a_full_run_is_complete_and_moves_the_summary(project: Project) -> None:
    project.events(EVENTS)
    project.metrics(METRIC)
    project.run("--trainloop")
    data = project.results()
    assert (data["complete"], data["partial"]) == (True, [])
    assert data["configuration"] | {"data_folder": "", "data_folder_source": ""} == {
        "data_folder": "",
        "data_folder_source": "",
        "suites": [],
        "tags": None,
        "limit": None,
        "sample": None,
        "seed": 0,
        "since": None,
        "until": None,
        "fail_under": None,
        "keyword": None,
        "markexpr": None,
        "last_failed": False,
        "maxfail": None,
        "deselect": [],
        "stepwise": False,
        "batch": False,
        "batch_size": None,
        "shard": None,
    }
    before = summary_bytes(project)
    project.run("--trainloop")
    summary = project.summary()
    assert summary_bytes(project) != before
    assert summary["results_file"] == max(project.results_files()).name
    assert summary["complete"] is True
    assert len(summary["trend"]["last_7_days"]) == 1


@SERIAL_AND_XDIST
@pytest.mark.parametrize(
    ("args", "partial"),
    [
        (["-k", "e0 or e2"], ["-k 'e0 or e2'", "4 of 6 cases deselected"]),
        (["--lf"], ["--lf", "4 of 6 cases deselected"]),
        (["-x"], ["stopped early by -x/--maxfail"]),
        (["--maxfail", "2"], ["stopped early by -x/--maxfail"]),
        (
            ["--deselect", "test_metrics.py::is_hello[e0]"],
            ["--deselect test_metrics.py::is_hello[e0]", "1 of 6 cases deselected"],
        ),
        (["test_metrics.py::is_hello[e5]"], ["5 of 6 cases deselected"]),
        (["--trainloop-limit", "3"], ["--trainloop-limit 3"]),
        (["--trainloop-sample", "2"], ["--trainloop-sample 2"]),
        (["--trainloop-suite", "s"], ["--trainloop-suite s"]),
        (["--trainloop-tags", "t"], ["--trainloop-tags t"]),
        (["--trainloop-since", "2024-01-01"], ["--trainloop-since 2024-01-01T00:00:00+00:00"]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_a_partial_run_leaves_the_summary_and_its_trend_as_they_were(
    evaluated: Project, dist: list[str], args: list[str], partial: list[str]
) -> None:
    summary, files = summary_bytes(evaluated), evaluated.results_files()
    result = evaluated.run("--trainloop", *dist, *args)
    assert summary_bytes(evaluated) == summary
    data = new_results(evaluated, files)
    assert (data["complete"], data["partial"]) == (False, partial)
    result.stdout.fnmatch_lines(
        ["trainloop: evaluation_summary.json left as it was: a partial run (*)"]
    )


@SERIAL_AND_XDIST
def test_narrowing_options_that_leave_every_case_in_make_no_partial_run(
    project: Project, dist: list[str]
) -> None:
    project.events(EVENTS)
    # -x stops nothing when no case fails.
    project.metrics(METRIC.replace(' == "Hello"', ' != ""') + "\ndef test_plain():\n    pass\n")
    project.run("--trainloop", *dist, "-k", "not test_plain", "-m", "not slow", "-x")
    data = project.results()
    assert (data["complete"], data["partial"]) == (True, [])
    assert data["configuration"]["keyword"] == "not test_plain"
    assert data["configuration"]["markexpr"] == "not slow"
    assert data["configuration"]["maxfail"] == 1


def test_the_configuration_records_what_changes_which_cases_ran(evaluated: Project) -> None:
    files = evaluated.results_files()
    evaluated.run(
        "--trainloop",
        "-k",
        "e0 or e1",
        "-m",
        "not slow",
        "--lf",
        "--maxfail",
        "3",
        "--deselect",
        "test_metrics.py::is_hello[e2]",
    )
    configuration = new_results(evaluated, files)["configuration"]
    assert {k: configuration[k] for k in ("keyword", "markexpr", "last_failed", "maxfail")} == {
        "keyword": "e0 or e1",
        "markexpr": "not slow",
        "last_failed": True,
        "maxfail": 3,
    }
    assert configuration["deselect"] == ["test_metrics.py::is_hello[e2]"]
    assert configuration["shard"] is None
    evaluated.run("--trainloop", "--trainloop-batch", "--trainloop-batch-size", "2")
    configuration = evaluated.results()["configuration"]
    assert (configuration["batch"], configuration["batch_size"]) == (True, 2)
    assert evaluated.results()["complete"] is True


def test_the_trend_holds_complete_runs_only(evaluated: Project) -> None:
    evaluated.run("--trainloop", "-k", "e1")  # scores 0.0: not a run to compare with
    evaluated.run("--trainloop")
    trend = evaluated.summary()["trend"]
    assert [h["overall_score"] for h in trend["last_7_days"]] == [0.6667]
    assert (trend["previous_overall_score"], trend["change"]) == (0.6667, 0.0)
    # Without the summary, the trend is read from the run files: partial ones are skipped.
    (evaluated.data / "results" / "evaluation_summary.json").unlink()
    evaluated.run("--trainloop")
    trend = evaluated.summary()["trend"]
    assert [h["overall_score"] for h in trend["last_7_days"]] == [0.6667, 0.6667]


# --- interrupted runs: in a subprocess, as an interrupt in-process would stop this session too


INTERRUPTED_AT_E3 = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def is_hello(event):
    if event.id == "e3":
        raise KeyboardInterrupt
    return event.response == "Hello"
"""


@SERIAL_AND_XDIST
@pytest.mark.parametrize("batch", [[], ["--trainloop-batch", "--trainloop-batch-size", "2"]])
def test_an_interrupted_run_writes_its_results_marked_and_leaves_the_summary(
    evaluated: Project, dist: list[str], batch: list[str]
) -> None:
    summary, files = summary_bytes(evaluated), evaluated.results_files()
    evaluated.metrics(INTERRUPTED_AT_E3)
    result = evaluated.pytester.runpytest_subprocess("--trainloop", "-p", "no:randomly", *dist)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert summary_bytes(evaluated) == summary
    data = new_results(evaluated, files)
    assert (data["complete"], data["partial"]) == (False, ["interrupted (Ctrl-C)"])
    result.stdout.fnmatch_lines(
        ["trainloop: evaluation_summary.json left as it was: a partial run (interrupted (Ctrl-C))"]
    )


SLEEPS_AT_E2 = """
import time
from pathlib import Path
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def is_hello(event):
    if event.id == "e2":
        Path("started").touch()
        time.sleep(60)
    return event.response == "Hello"
"""


@SERIAL_AND_XDIST
def test_a_real_ctrl_c_leaves_the_summary_as_it_was(evaluated: Project, dist: list[str]) -> None:
    summary, files = summary_bytes(evaluated), evaluated.results_files()
    evaluated.metrics(SLEEPS_AT_E2)
    # Ctrl-C in a terminal signals the whole process group: the controller and its workers.
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--trainloop", "-p", "no:randomly", *dist],
        cwd=evaluated.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (evaluated.path / "started").exists():
            assert run.poll() is None and time.monotonic() < deadline, "the run never got to e2"
            time.sleep(0.05)
        # Under xdist the reports of the cases before e2 travel to the controller on their
        # own: give them a moment, or the controller may be interrupted having seen no case.
        time.sleep(0.5)
        os.killpg(run.pid, signal.SIGINT)
        out, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == pytest.ExitCode.INTERRUPTED, out.decode()
    assert summary_bytes(evaluated) == summary
    data = new_results(evaluated, files)
    assert (data["complete"], data["partial"]) == (False, ["interrupted (Ctrl-C)"])

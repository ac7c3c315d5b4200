"""A run leaves nothing behind in its process: in-process runs (pytester, embedders) start clean."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from tests.conftest import Project, documented_event

METRICS = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["greeting"])
def is_polite(event):
    return "Hello" in event.response  # reads each event's line again: a descriptor is opened
"""


def _descriptors_into(folder: Path) -> list[str]:
    """The descriptors this process holds open on files under `folder`."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed since it was listed (the listing's own descriptor)
        if target.startswith(str(folder)):
            held.append(target)
    return held


def test_two_runs_in_one_process_leave_no_descriptor_open_and_nothing_frozen(
    project: Project,
) -> None:
    project.events([documented_event(f"req_{n}") for n in range(3)], name="a.jsonl")
    project.events([documented_event(f"req_b{n}") for n in range(3)], name="b.jsonl")
    project.metrics(METRICS)
    frozen_before = gc.get_freeze_count()
    for _ in range(2):
        result = project.pytester.runpytest_inprocess("--trainloop", "-p", "no:randomly")
        result.assert_outcomes(passed=6)
        assert _descriptors_into(project.data) == []
        assert gc.get_freeze_count() == frozen_before
    assert project.results()["summary"]["total"] == 6


@pytest.mark.parametrize("stop", [False, True], ids=["to the end", "stopped by pytest.exit"])
def test_a_batch_run_leaves_the_garbage_collector_running_and_no_line_parsed(
    project: Project, stop: bool
) -> None:
    # Batch mode pauses the collector while a chunk's tests run, and keeps its lines parsed.
    project.events([documented_event(f"req_{n}") for n in range(5)])
    stopping = '    if event.id == "req_3":\n        pytest.exit("enough")\n' if stop else ""
    project.metrics(
        METRICS + '\n\n@pytest.mark.trainloop_suite("s", tags=["greeting"])\n'
        "def second(event):\n" + stopping + "    return True\n"
    )
    assert gc.isenabled()
    recorded = project.pytester.inline_run(
        "--trainloop", "--trainloop-batch", "--trainloop-batch-size", "2", "-p", "no:randomly"
    )
    assert recorded.ret == (pytest.ExitCode.INTERRUPTED if stop else pytest.ExitCode.OK)
    assert gc.isenabled()
    [finished] = recorded.getcalls("pytest_collection_finish")
    events = [item.callspec.params["event"].events for item in finished.session.items]
    assert all(event._parsed is None for chunk in events for event in chunk)

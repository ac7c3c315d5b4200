"""A run leaves nothing behind in its process: in-process runs (pytester, embedders) start clean."""

from __future__ import annotations

import gc
import os
from pathlib import Path

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

"""A project whose metric returns every kind of verdict: shared by the counting tests of
per-case runs (test_aggregation.py) and batch mode (test_batch_mode.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Project, documented_event

METRICS = """
import pytest
from pytest_trainloop import Verdict

@pytest.mark.trainloop_suite("s", tags=["a"])
def verdicts(event):
    kind = event.metadata["kind"]
    if kind == "none": return None
    if kind == "true": return True
    if kind == "false": return False
    if kind == "one": return 1
    if kind == "zero": return 0
    if kind == "high": return 0.9
    if kind == "low": return 0.2
    if kind == "tuple-no": return (False, "said no")
    if kind == "verdict-no": return Verdict(False, "verdict no")
    if kind == "assert": assert event.response == "x", "not x"
    if kind == "raise": raise ValueError("broken metric")
    if kind == "weird": return "yes"
    if kind == "skip": pytest.skip("not applicable")

@pytest.mark.trainloop_suite("s", tags=["b"])
def test_always(event):
    pass
"""
# kind -> what the case counts as (None: skipped, not counted)
KINDS = {
    "none": "passed",
    "true": "passed",
    "false": "failed",
    "one": "passed",
    "zero": "failed",
    "high": "passed",
    "low": "failed",
    "tuple-no": "failed",
    "verdict-no": "failed",
    "assert": "failed",
    "raise": "error",
    "weird": "error",
    "skip": None,
}


def make_events(project: Project) -> list[dict[str, Any]]:
    events = []
    for i, kind in enumerate(sorted(KINDS) * 2):
        tags = ["a", "b"] if i % 3 == 0 else ["a"]
        events.append(documented_event(f"r{i}", tags=tags, kind=kind))
    events.append(documented_event("failed-call", tags=["a", "b"], content=None, kind="none"))
    project.events(events)
    return events

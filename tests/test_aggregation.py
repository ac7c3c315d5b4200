"""Counting: the results JSON agrees with counts made independently from the events, every way."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Project, comparable, documented_event
from tests.every_verdict import KINDS, METRICS, make_events


def expected_counts(events: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Counted straight from the events, without the plugin."""
    verdicts = {"passed": 0, "failed": 0, "errors": 0}
    always = {"passed": 0, "failed": 0, "errors": 0}
    for event in events:
        if event["output"] is None:
            continue
        tags = event["metadata"]["tags"]
        counted = KINDS[event["metadata"]["kind"]]
        if "a" in tags and counted:
            verdicts["errors" if counted == "error" else counted] += 1
        if "b" in tags:
            always["passed"] += 1
    return {"verdicts": verdicts, "always": always}


def test_counts_equal_counts_made_from_the_events(project: Project, dist: list[str]) -> None:
    events = make_events(project)
    project.metrics(METRICS)
    result = project.run("--trainloop", *dist)
    assert result.ret == 1
    metrics = project.results()["suites"]["s"]["metrics"]
    for name, counts in expected_counts(events).items():
        got = metrics[name]
        assert {k: got[k] for k in counts} == counts, name
        assert got["total"] == sum(counts.values())
        assert got["score"] == round(counts["passed"] / got["total"], 4)
    assert project.results()["suites"]["s"]["left_out_errors"] == 1
    assert project.results()["suites"]["s"]["tags"] == ["a", "b"]
    assert project.results()["summary"]["left_out_errors"] == 1  # one event, two metrics


def test_suite_and_summary_scores_follow_the_design(project: Project) -> None:
    events = make_events(project)
    project.metrics(METRICS)
    project.run("--trainloop")
    results = project.results()
    counts = expected_counts(events)
    scores = [c["passed"] / sum(c.values()) for c in counts.values()]
    assert results["suites"]["s"]["overall_score"] == round(sum(scores) / 2, 4)
    passed = sum(c["passed"] for c in counts.values())
    total = sum(sum(c.values()) for c in counts.values())
    assert results["summary"]["overall_score"] == round(passed / total, 4)
    assert results["summary"]["pass_rate"] == results["summary"]["overall_score"]
    assert results["summary"]["errors"] == counts["verdicts"]["errors"]


def test_the_three_ways_of_running_give_the_same_results_json(
    project: Project, pytester: pytest.Pytester
) -> None:
    make_events(project)
    project.metrics(METRICS)
    seen = []
    for args in (["-p", "no:xdist"], ["-n0"], ["-n2"]):
        project.run("--trainloop", *args)
        seen.append(comparable(project.results()))
    assert seen[0] == seen[1] == seen[2]


def test_a_passing_tuple_verdict_does_not_keep_its_failure_reason(project: Project) -> None:
    project.events([documented_event("r1", tags=["b"])])
    project.metrics(
        METRICS.replace(
            "def test_always(event):\n    pass",
            'def test_always(event):\n    return True, "would fail"',
        )
    )
    project.run("--trainloop")
    [detail] = project.results()["suites"]["s"]["metrics"]["always"]["details"]
    assert detail == {"event_id": "r1", "verdict": "passed"}


def test_details_carry_the_verdict_reason_score_and_snippets(project: Project) -> None:
    project.events(
        [
            documented_event("r1", tags=["a"], kind="tuple-no", content="y" * 500),
            documented_event("r2", tags=["a"], kind="low"),
        ]
    )
    project.metrics(METRICS)
    project.run("--trainloop")
    details = project.results()["suites"]["s"]["metrics"]["verdicts"]["details"]
    assert details == [
        {
            "event_id": "r1",
            "verdict": "failed",
            "reason": "said no",
            "input": "Hello!",
            "output": "y" * 200,
        },
        {
            "event_id": "r2",
            "verdict": "failed",
            "score": 0.2,
            "reason": "score 0.2 is below the threshold 0.5",
            "input": "Hello!",
            "output": "Hello! How can I help you today?",
        },
    ]

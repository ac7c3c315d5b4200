"""JUnit XML shows each case's suite, metric, event, verdict and score, and a tolerated failure
as what CI understands."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.conftest import MIXED_METRICS, Project


def test_junit_xml_carries_suite_metric_event_verdict_and_score(mixed: Project) -> None:
    mixed.run("--trainloop", "--junitxml=out.xml")
    root = ET.parse(mixed.path / "out.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["scored[req_b2]"].iter("property")}
    assert props["trainloop_suite"] == "s"
    assert props["trainloop_metric"] == "scored"
    assert props["trainloop_event"] == "req_b2"
    assert props["trainloop_verdict"] == "failed"
    assert props["trainloop_score"] == "0.25"
    assert cases["scored[req_b2]"].find("failure") is not None


def test_junit_xml_shows_a_tolerated_failure_as_skipped_xfail_and_no_none_properties(
    mixed: Project,
) -> None:
    mixed.metrics(
        MIXED_METRICS.replace(
            'tags=["t"])\ndef is_hello', 'tags=["t"], min_score=0.1)\ndef is_hello'
        )
    )
    result = mixed.run("--trainloop", "--junitxml=out.xml")
    assert result.ret == 1  # `scored` has no gate: its failing cases fail
    root = ET.parse(mixed.path / "out.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    tolerated = cases["is_hello[req_b2]"]
    skipped = tolerated.find("skipped")
    assert skipped is not None and skipped.get("type") == "pytest.xfail"
    assert skipped.get("message") == "tolerated by min_score=0.1: not hello"
    props = {p.get("name"): p.get("value") for p in tolerated.iter("property")}
    assert props["trainloop_verdict"] == "failed"  # the truth, whatever CI calls it
    assert props["trainloop_min_score"] == "0.1"
    assert "trainloop_score" not in props  # a pass/fail verdict has no score
    values = [p.get("value") for p in root.iter("property")]
    assert values and "None" not in values
    passed = {p.get("name") for p in cases["is_hello[req_a1]"].iter("property")}
    assert "trainloop_min_score" in passed and "trainloop_score" not in passed
    unbounded = {p.get("name") for p in cases["scored[req_a1]"].iter("property")}
    assert "trainloop_min_score" not in unbounded and "trainloop_score" in unbounded

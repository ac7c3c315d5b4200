"""Aggregation without pytest: one metric's counts, a run's totals and scores, its gates and its
judge usage, each worked by hand from a few cases."""

from __future__ import annotations

from typing import Any

from pytest_trainloop.summary import Case, Gate, MetricTally, Tally, merge_usage


def counted(tally: MetricTally, kind: str, event_id: str = "e", **values: Any) -> MetricTally:
    """`tally` after one more case of `kind` (reason, score, snippets and votes as given)."""
    tally.count(
        event_id=event_id,
        kind=kind,
        reason=values.get("reason", ""),
        score=values.get("score"),
        input=values.get("input", ""),
        output=values.get("output", ""),
        judge_votes=values.get("judge_votes"),
    )
    return tally


def metric_with(
    tally: Tally, suite: str, metric: str, passed: int = 0, failed: int = 0, errors: int = 0
) -> MetricTally:
    """The metric `suite/metric` of `tally`, after that many cases of each kind."""
    into = tally.metric(suite, metric)
    for kind, n in (("passed", passed), ("failed", failed), ("error", errors)):
        for i in range(n):
            counted(into, kind, f"{kind}-{i}")
    return into


# --- one metric ---------------------------------------------------------------------------------


def test_a_passing_case_keeps_its_event_id_verdict_and_score_but_not_its_snippets() -> None:
    tally = counted(MetricTally("s", "m"), "passed", "e1", score=0.75, input="in", output="out")
    assert (tally.passed, tally.failed, tally.errors) == (1, 0, 0)
    assert tally.details == [{"event_id": "e1", "verdict": "passed", "score": 0.75}]
    assert not tally.reasons


def test_a_passing_case_keeps_a_reason_it_was_given_without_counting_it() -> None:
    tally = counted(MetricTally("s", "m"), "passed", "e1", reason="polite enough")
    assert tally.details == [{"event_id": "e1", "verdict": "passed", "reason": "polite enough"}]
    assert not tally.reasons


def test_a_failed_case_keeps_its_reason_and_snippets_for_the_reader() -> None:
    tally = counted(
        MetricTally("s", "m"), "failed", "e2", reason="too short", input="Hi", output="Yo"
    )
    assert (tally.passed, tally.failed, tally.errors) == (0, 1, 0)
    assert tally.details == [
        {
            "event_id": "e2",
            "verdict": "failed",
            "reason": "too short",
            "input": "Hi",
            "output": "Yo",
        }
    ]


def test_an_error_is_counted_apart_from_failures() -> None:
    tally = counted(MetricTally("s", "m"), "error", "e3", reason="ValueError: broken")
    assert (tally.passed, tally.failed, tally.errors) == (0, 0, 1)
    assert tally.details == [
        {
            "event_id": "e3",
            "verdict": "error",
            "reason": "ValueError: broken",
            "input": "",
            "output": "",
        }
    ]


def test_a_failure_without_a_reason_keeps_its_snippets_and_counts_no_reason() -> None:
    tally = counted(MetricTally("s", "m"), "failed", "e4", score=0.25, input="Hi", output="")
    assert tally.details == [
        {"event_id": "e4", "verdict": "failed", "score": 0.25, "input": "Hi", "output": ""}
    ]
    assert not tally.reasons


def test_a_score_of_zero_is_kept_as_a_score() -> None:
    tally = counted(MetricTally("s", "m"), "failed", "e5", score=0.0)
    assert tally.details[0]["score"] == 0.0


def test_reasons_are_counted_by_their_first_line_cut_at_120_characters() -> None:
    tally = MetricTally("s", "m")
    counted(tally, "failed", "e1", reason="too short\nexpected at least 10 words")
    counted(tally, "error", "e2", reason="too short\ngot 3 words")
    counted(tally, "failed", "e3", reason="x" * 130)
    assert tally.reasons == {"too short": 2, "x" * 120: 1}
    # The detail keeps the whole reason; only the count is by its first line.
    assert tally.details[0]["reason"] == "too short\nexpected at least 10 words"


def test_judge_votes_are_kept_only_when_there_are_some() -> None:
    votes = [{"model": "gpt-4o-mini", "vote": True}]
    tally = MetricTally("s", "m")
    counted(tally, "passed", "e1", judge_votes=votes)
    counted(tally, "passed", "e2", judge_votes=[])
    assert tally.details == [
        {"event_id": "e1", "verdict": "passed", "judge_votes": votes},
        {"event_id": "e2", "verdict": "passed"},
    ]


def test_a_metric_scores_its_passes_over_passes_failures_and_errors() -> None:
    tally = metric_with(Tally(), "s", "m", passed=2, failed=1, errors=1)
    assert tally.total == 4
    assert tally.score == 0.5


def test_a_metric_with_no_case_has_no_score() -> None:
    tally = MetricTally("s", "m")
    assert tally.total == 0
    assert tally.score is None


# --- a run --------------------------------------------------------------------------------------


def test_the_same_suite_and_metric_give_the_same_tally() -> None:
    tally = Tally()
    assert tally.metric("s", "m") is tally.metric("s", "m")
    assert tally.metric("s", "m") is not tally.metric("t", "m")


def test_suites_group_their_metrics_in_sorted_order() -> None:
    tally = Tally()
    for suite, metric in (("t", "z"), ("s", "b"), ("s", "a")):
        tally.metric(suite, metric)
    suites = tally.suites()
    assert list(suites) == ["s", "t"]
    assert [t.metric for t in suites["s"]] == ["a", "b"]
    assert [t.metric for t in suites["t"]] == ["z"]


def test_totals_add_every_metric_and_the_unattributed_errors() -> None:
    tally = Tally(unattributed_errors=2)
    metric_with(tally, "s", "a", passed=3, failed=1)
    metric_with(tally, "s", "b", passed=1, errors=1)
    metric_with(tally, "t", "c", failed=2)
    assert tally.totals() == (4, 3, 3)
    assert tally.overall_score() == 0.4  # 4 passed of 10


def test_the_overall_score_weighs_cases_while_a_suite_score_weighs_metrics() -> None:
    tally = Tally()
    metric_with(tally, "s", "a", passed=3, failed=1)  # 0.75
    metric_with(tally, "s", "b", passed=1, failed=1)  # 0.5
    assert Tally.suite_score(tally.suites()["s"]) == 0.625  # (0.75 + 0.5) / 2
    assert tally.overall_score() == 4 / 6


def test_a_suite_score_leaves_out_metrics_that_evaluated_nothing() -> None:
    tally = Tally()
    metric_with(tally, "s", "a", passed=3, failed=1)
    tally.metric("s", "b")
    assert Tally.suite_score(tally.suites()["s"]) == 0.75
    assert Tally.suite_score([MetricTally("s", "c")]) is None
    assert Tally.suite_score([]) is None


def test_a_run_that_evaluated_nothing_has_no_overall_score() -> None:
    tally = Tally()
    tally.metric("s", "a")
    assert tally.totals() == (0, 0, 0)
    assert tally.overall_score() is None


def test_a_run_of_unattributed_errors_only_scores_zero() -> None:
    assert Tally(unattributed_errors=1).overall_score() == 0.0


# --- gates --------------------------------------------------------------------------------------


def test_a_min_score_gate_holds_at_its_bound() -> None:
    tally = Tally()
    metric_with(tally, "s", "m", passed=1, failed=1).min_score = 0.5
    assert tally.gates(None) == [Gate("min_score", "s", "m", 0.5, 0.5)]
    [gate] = tally.gates(None)
    assert gate.held
    assert gate.label == "min_score of s/m"


def test_a_min_score_gate_fails_just_above_the_score() -> None:
    tally = Tally()
    metric_with(tally, "s", "m", passed=1, failed=2).min_score = 0.34  # score 0.333...
    [gate] = tally.gates(None)
    assert not gate.held


def test_a_min_score_of_a_metric_that_evaluated_nothing_is_no_gate() -> None:
    tally = Tally()
    tally.metric("s", "m").min_score = 0.5
    assert tally.gates(None) == []


def test_fail_under_is_a_gate_on_the_overall_score_that_holds_at_its_bound() -> None:
    tally = Tally()
    metric_with(tally, "s", "a", passed=1, failed=1)
    metric_with(tally, "t", "b", passed=1, failed=2)  # 2 passed of 5 in all
    [gate] = tally.gates(0.4)
    assert gate == Gate("fail_under", None, None, 0.4, 0.4)
    assert gate.held
    assert gate.label == "--trainloop-fail-under"
    [gate] = tally.gates(0.41)
    assert not gate.held


def test_fail_under_is_no_gate_when_nothing_was_evaluated() -> None:
    assert Tally().gates(0.9) == []


def test_a_metric_that_must_not_be_empty_gives_a_gate_that_never_holds() -> None:
    tally = Tally(must_not_be_empty={("s", "m"): "no event has the tags ['x']"})
    [gate] = tally.gates(None)
    assert gate == Gate("not_empty", "s", "m", 1, 0)
    assert not gate.held
    assert gate.label == "s/m evaluated nothing"


def test_gates_come_min_scores_first_in_sorted_order_then_fail_under_then_not_empty() -> None:
    tally = Tally(must_not_be_empty={("u", "y"): "why", ("u", "x"): "why"})
    metric_with(tally, "t", "b", passed=1).min_score = 0.5
    metric_with(tally, "s", "a", passed=1).min_score = 0.5
    metric_with(tally, "s", "c", passed=1)  # no min_score: no gate of its own
    names = [(g.name, g.suite, g.metric) for g in tally.gates(0.5)]
    assert names == [
        ("min_score", "s", "a"),
        ("min_score", "t", "b"),
        ("fail_under", None, None),
        ("not_empty", "u", "x"),
        ("not_empty", "u", "y"),
    ]


# --- judge usage --------------------------------------------------------------------------------


def test_merging_judge_usage_adds_counts_per_model_and_keeps_new_ones() -> None:
    total = {"gpt-4o-mini": {"calls": 1, "tokens": 10}}
    merge_usage(total, {"gpt-4o-mini": {"calls": 2, "cache_hits": 1}, "claude": {"calls": 1}})
    assert total == {
        "gpt-4o-mini": {"calls": 3, "tokens": 10, "cache_hits": 1},
        "claude": {"calls": 1},
    }


def test_merged_judge_usage_is_a_copy_that_later_merges_leave_alone() -> None:
    first = {"claude": {"calls": 1}}
    total: dict[str, dict[str, int]] = {}
    merge_usage(total, first)
    merge_usage(total, {"claude": {"calls": 2}})
    assert total == {"claude": {"calls": 3}}
    assert first == {"claude": {"calls": 1}}


def test_judge_usage_sums_the_cases_of_a_suite_or_of_the_whole_run() -> None:
    tally = Tally()
    for suite, metric, calls in (("s", "a", 1), ("s", "a", 2), ("s", "b", 4), ("t", "c", 8)):
        usage = {"gpt-4o-mini": {"calls": calls}}
        tally.add(Case(suite, metric, f"e{calls}", "passed", judge_usage=usage))
    assert tally.metric("s", "a").judge_usage == {"gpt-4o-mini": {"calls": 3}}
    assert tally.judge_usage("s") == {"gpt-4o-mini": {"calls": 7}}
    assert tally.judge_usage("t") == {"gpt-4o-mini": {"calls": 8}}
    assert tally.judge_usage() == {"gpt-4o-mini": {"calls": 15}}
    assert tally.judge_usage("nowhere") == {}


def test_adding_a_case_counts_it_in_its_metric() -> None:
    tally = Tally()
    tally.add(Case("s", "m", "e1", "failed", "too short", 0.25, "Hi", "Yo"))
    [metric] = tally.suites()["s"]
    assert (metric.metric, metric.failed, metric.total) == ("m", 1, 1)
    assert metric.details == [
        {
            "event_id": "e1",
            "verdict": "failed",
            "score": 0.25,
            "reason": "too short",
            "input": "Hi",
            "output": "Yo",
        }
    ]


# --- the details, kept compact ------------------------------------------------------------------


def test_details_list_every_case_by_event_id_ties_in_the_order_counted() -> None:
    tally = MetricTally("s", "m")
    counted(tally, "passed", "b")
    counted(tally, "failed", "a", reason="no", input="i", output="o")
    counted(tally, "passed", "c", score=0.5)
    counted(tally, "error", "b", reason="boom")
    assert list(tally.details) == [
        {"event_id": "a", "verdict": "failed", "reason": "no", "input": "i", "output": "o"},
        {"event_id": "b", "verdict": "passed"},
        {"event_id": "b", "verdict": "error", "reason": "boom", "input": "", "output": ""},
        {"event_id": "c", "verdict": "passed", "score": 0.5},
    ]
    assert tally.details[1:3] == list(tally.details)[1:3]
    assert len(tally.details) == 4


def test_a_plain_pass_is_kept_without_a_dict_of_its_own() -> None:
    tally = MetricTally("s", "m")
    for n in range(1000):
        counted(tally, "passed", f"e{n}", score=None if n % 2 else 1.0)
    counted(tally, "failed", "x")
    # Only the failure has a detail of its own; the passes are an id and a score each.
    assert list(tally.full) == [1000]
    assert tally.details[0] == {"event_id": "e0", "verdict": "passed", "score": 1.0}
    assert tally.details[1] == {"event_id": "e1", "verdict": "passed"}


def test_a_score_that_is_not_a_plain_float_is_kept_as_it_was_given() -> None:
    # NaN has no JSON number and an int is not written as a float: both keep their detail.
    tally = MetricTally("s", "m")
    counted(tally, "passed", "a", score=1)
    counted(tally, "passed", "b", score=float("nan"))
    first, second = tally.details
    assert first == {"event_id": "a", "verdict": "passed", "score": 1}
    assert type(first["score"]) is int
    assert second["score"] != second["score"]  # NaN, as given

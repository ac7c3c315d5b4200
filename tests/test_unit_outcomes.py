"""A metric's return value turned into its case's outcome, without pytest: every allowed return,
every bad one and the message its user reads, thresholds at their boundary; reasons made stable;
outcomes as report properties and back."""

from __future__ import annotations

import orjson
import pytest

from pytest_trainloop.outcomes import Outcome, Verdict, outcome_of, stable_reason
from pytest_trainloop.records import BatchOutcome, CaseVerdict, Identity, Row, receive

ALLOWED = (
    "return None, True/False, 0/1, a float score in [0, 1], (verdict, reason) "
    "or a pytest_trainloop.Verdict"
)


class Thing:
    """An object whose repr holds its address, new in each run."""


# --- allowed returns ----------------------------------------------------------------------------


def test_returning_none_passes() -> None:
    assert outcome_of(None, 0.5) == Outcome("passed")


def test_true_passes_and_false_fails_without_a_score() -> None:
    assert outcome_of(True, 0.5) == Outcome("passed")
    assert outcome_of(False, 0.5) == Outcome("failed")


def test_one_passes_and_zero_fails_each_with_its_score() -> None:
    assert outcome_of(1, 0.5) == Outcome("passed", score=1.0)
    assert outcome_of(0, 0.5) == Outcome("failed", score=0.0)


def test_a_float_score_at_the_threshold_passes() -> None:
    assert outcome_of(0.5, 0.5) == Outcome("passed", "", 0.5)


def test_a_float_score_just_below_the_threshold_fails_saying_so() -> None:
    assert outcome_of(0.49, 0.5) == Outcome("failed", "score 0.49 is below the threshold 0.5", 0.49)


def test_a_failing_score_is_shown_with_three_significant_digits() -> None:
    outcome = outcome_of(0.123456, 0.75)
    assert outcome.reason == "score 0.123 is below the threshold 0.75"
    assert outcome.score == 0.123456  # the score itself is kept whole


def test_the_ends_of_the_score_range_are_scores() -> None:
    assert outcome_of(1.0, 1.0) == Outcome("passed", "", 1.0)
    assert outcome_of(0.0, 0.0) == Outcome("passed", "", 0.0)
    assert outcome_of(0.0, 0.5).kind == "failed"


def test_a_verdict_object_keeps_its_reason_and_score_whether_passed_or_failed() -> None:
    assert outcome_of(Verdict(True, "polite", 0.8), 0.5) == Outcome("passed", "polite", 0.8)
    assert outcome_of(Verdict(False, "rude"), 0.5) == Outcome("failed", "rude")


def test_a_verdict_object_decides_whatever_its_score_and_the_threshold() -> None:
    assert outcome_of(Verdict(False, "rude", 0.9), 0.5).kind == "failed"
    assert outcome_of(Verdict(True, "", 0.1), 0.5).kind == "passed"


def test_a_verdict_is_truthy_when_it_passed() -> None:
    assert Verdict(True)
    assert not Verdict(False, "rude")


def test_a_failing_tuple_keeps_its_reason() -> None:
    assert outcome_of((False, "said no"), 0.5) == Outcome("failed", "said no")


def test_a_passing_tuple_drops_its_reason_as_a_passing_assert_would() -> None:
    assert outcome_of((True, "would fail"), 0.5) == Outcome("passed")
    assert outcome_of((None, "would fail"), 0.5) == Outcome("passed")


def test_a_tuple_with_a_score_is_judged_by_the_threshold_and_its_reason_replaces_ours() -> None:
    assert outcome_of((0.2, "too terse"), 0.5) == Outcome("failed", "too terse", 0.2)
    assert outcome_of((0.9, "too terse"), 0.5) == Outcome("passed", "", 0.9)
    assert outcome_of((0, "no"), 0.5) == Outcome("failed", "no", 0.0)


def test_a_tuple_of_a_verdict_object_keeps_the_tuples_reason() -> None:
    assert outcome_of((Verdict(False, "inner"), "outer"), 0.5) == Outcome("failed", "outer")


def test_reasons_of_verdicts_and_tuples_lose_their_addresses() -> None:
    assert outcome_of(Verdict(False, "<function f at 0x7f3a>"), 0.5).reason == "<function f>"
    assert outcome_of((False, "<function f at 0x7f3a>"), 0.5).reason == "<function f>"


# --- bad returns --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2, -1])
def test_an_integer_other_than_zero_or_one_is_an_error_pointing_to_float_scores(
    value: int,
) -> None:
    assert outcome_of(value, 0.5) == Outcome(
        "error",
        f"the metric returned the integer {value}; only 0 and 1 are verdicts "
        "(return a float in [0, 1] for a score)",
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1.5, "1.5"), (-0.1, "-0.1"), (float("nan"), "nan"), (float("inf"), "inf")],
)
def test_a_float_outside_zero_to_one_is_an_error(value: float, shown: str) -> None:
    assert outcome_of(value, 0.5) == Outcome(
        "error", f"the metric returned the score {shown}, outside [0, 1]"
    )


def test_a_tuple_whose_verdict_is_bad_gives_that_verdicts_error() -> None:
    assert outcome_of((1.5, "why"), 0.5) == outcome_of(1.5, 0.5)
    assert outcome_of((7, "why"), 0.5) == outcome_of(7, 0.5)


def test_a_string_is_an_error_that_lists_the_allowed_returns() -> None:
    assert outcome_of("yes", 0.5) == Outcome("error", f"the metric returned str 'yes'; {ALLOWED}")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ((True, 3), "tuple (True, 3)"),
        ((True, "a", "b"), "tuple (True, 'a', 'b')"),
        (((True, "a"), "b"), "tuple ((True, 'a'), 'b')"),
        (("yes", "why"), "tuple ('yes', 'why')"),
        ([True], "list [True]"),
        ({"passed": True}, "dict {'passed': True}"),
    ],
    ids=["reason-not-text", "three-items", "nested", "bad-verdict", "list", "dict"],
)
def test_other_shapes_are_errors_naming_their_type_and_value(value: object, shown: str) -> None:
    assert outcome_of(value, 0.5) == Outcome("error", f"the metric returned {shown}; {ALLOWED}")


def test_a_long_bad_value_is_shown_cut_to_80_characters() -> None:
    outcome = outcome_of("x" * 100, 0.5)
    assert outcome.reason == f"the metric returned str '{'x' * 76}...; {ALLOWED}"


def test_a_bad_value_is_shown_without_its_address() -> None:
    outcome = outcome_of(Thing(), 0.5)
    assert outcome.reason == f"the metric returned Thing <{__name__}.Thing object>; {ALLOWED}"


# --- stable reasons -----------------------------------------------------------------------------


def test_a_stable_reason_drops_every_address_of_a_repr() -> None:
    text = "<function search at 0x7f89AB12> called <object at 0xdeadbeef>"
    assert stable_reason(text) == "<function search> called <object>"


def test_a_stable_reason_keeps_text_that_only_looks_like_an_address() -> None:
    for text in ("look at 0x", "at 0x1f with no space before", "meet at 0xygen", "no address"):
        assert stable_reason(text) == text


# --- report properties --------------------------------------------------------------------------


def test_a_cases_properties_are_prefixed_and_leave_out_what_it_does_not_have() -> None:
    identity = Identity("s", "m", threshold=0.5, min_score=0.0, event="e1")
    verdict = CaseVerdict("failed", "", None, "hi", "")
    assert identity.to_properties() == [
        ("trainloop_suite", "s"),
        ("trainloop_metric", "m"),
        ("trainloop_threshold", 0.5),
        ("trainloop_min_score", 0.0),  # a bound of 0 is a bound: kept
        ("trainloop_event", "e1"),
    ]
    assert ("trainloop_score", None) not in verdict.to_properties()
    assert ("trainloop_reason", "") in verdict.to_properties()  # an empty text is a value


def test_a_report_reads_back_only_our_own_entries() -> None:
    properties = [
        ("trainloop_suite", "s"),
        ("owner", "team-a"),
        ("trainloop_metric", "m"),
        ("trainloop_event", "e1"),
    ]
    received = receive(properties)
    assert received is not None
    assert received.identity == Identity("s", "m", event="e1")
    assert received.verdict is None and received.batch is None


def test_the_properties_of_another_test_read_back_as_nothing() -> None:
    assert receive([]) is None
    assert receive([("owner", "team-a")]) is None


def test_a_case_written_as_properties_reads_back_the_same() -> None:
    identity = Identity("s", "m", threshold=0.5, event="e1")
    verdict = CaseVerdict("failed", "said no", 0.25, "the prompt", "the reply", None, [["m", 0]])
    received = receive([*identity.to_properties(), *verdict.to_properties()])
    assert received is not None
    assert received.identity == identity
    assert received.verdict == verdict


@pytest.mark.parametrize("as_text", [False, True], ids=["in-process", "from-a-worker"])
@pytest.mark.parametrize(
    ("rows", "passed"),
    [
        ([("e2", "failed", "no", None, "p", "r", None)], ["e1", "e3"]),
        ([], ["e1", "e2"]),  # every event plainly passed
        ([("e1", "error", "boom", None, "", "", None)], []),  # none did: nothing sent for them
    ],
    ids=["both", "passes-only", "rows-only"],
)
def test_a_batch_outcome_written_as_properties_reads_back_the_same(
    rows: list[Row], passed: list[str], as_text: bool
) -> None:
    outcome = BatchOutcome(rows, passed, {"openai/m": {"calls": 2}})
    identity = Identity("s", "m", batch_size=3)
    properties = [*identity.to_properties(), *outcome.to_properties(as_text)]
    if not passed:
        assert all(name != "trainloop_batch_passed" for name, _ in properties)
    received = receive(orjson.loads(orjson.dumps(properties)) if as_text else properties)
    assert received is not None and received.batch is not None
    back = received.batch
    assert [tuple(r) for r in back.rows] == rows
    assert back.passed == passed
    assert back.judge_usage == {"openai/m": {"calls": 2}}
    assert back.events == len(rows) + len(passed)

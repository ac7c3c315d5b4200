"""Pairing, statistics, gates and the terminal view of a comparison, on results dicts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from pytest_trainloop.compare import ResultsFileError, compare, latest_complete, read_results
from pytest_trainloop.regression import regression_gates
from pytest_trainloop.report.comparison import cells, gate_lines, newly_failed_lines
from pytest_trainloop.stats import mcnemar_exact

Row = tuple[str, str] | tuple[str, str, float]  # event id, verdict[, score]


def results(suites: dict[str, dict[str, list[Row]]], **top: Any) -> dict[str, Any]:
    """A results dict in the shape the plugin writes, with only what pairing reads."""

    def detail(row: Row) -> dict[str, Any]:
        out: dict[str, Any] = {"event_id": row[0], "verdict": row[1]}
        if len(row) == 3:
            out["score"] = row[2]
        return out

    return {
        "timestamp": "2026-01-02T03:04:05.000Z",
        "suites": {
            suite: {
                "metrics": {m: {"details": [detail(r) for r in rows]} for m, rows in ms.items()}
            }
            for suite, ms in suites.items()
        },
        **top,
    }


def flipped(failed: int, passed: int, same: int = 0) -> tuple[list[Row], list[Row]]:
    """Baseline and run rows: `failed` cases newly failed, `passed` newly passed, `same` passing."""
    before: list[Row] = [(f"f{i:03d}", "passed") for i in range(failed)]
    before += [(f"p{i:03d}", "failed") for i in range(passed)]
    before += [(f"s{i:03d}", "passed") for i in range(same)]
    after: list[Row] = [(f"f{i:03d}", "error" if i % 2 else "failed") for i in range(failed)]
    after += [(f"p{i:03d}", "passed") for i in range(passed)]
    after += [(f"s{i:03d}", "passed") for i in range(same)]
    return before, after


def test_cases_pair_by_event_id_and_unpaired_ones_are_counted_on_their_side() -> None:
    baseline = results(
        {"s": {"m": [("a", "passed"), ("b", "failed"), ("c", "passed"), ("x", "passed")]}}
    )
    run = results({"s": {"m": [("c", "failed"), ("b", "failed"), ("a", "passed"), ("y", "error")]}})
    m = compare(baseline, run, "base.json").metric("s", "m")
    assert m is not None
    assert (m.both_passed, m.both_failed, m.newly_failed, m.newly_passed) == (1, 1, 1, 0)
    assert (m.only_in_baseline, m.only_in_run) == (1, 1)
    # Scores on the three paired cases only: a and c passed before, a now.
    assert (m.baseline_score, m.run_score, m.change) == (2 / 3, 1 / 3, -1 / 3)
    assert m.newly_failed_ids == ("c",)


def test_an_error_counts_as_not_passing() -> None:
    baseline = results({"s": {"m": [("a", "passed")]}})
    m = compare(baseline, results({"s": {"m": [("a", "error")]}}), "b").metric("s", "m")
    assert m is not None and m.newly_failed == 1


def test_a_significant_excess_of_newly_failed_cases_is_a_regression() -> None:
    before, after = flipped(failed=10, passed=2, same=30)
    comparison = compare(results({"s": {"m": before}}), results({"s": {"m": after}}), "b")
    m = comparison.metric("s", "m")
    assert m is not None
    assert m.p_value == mcnemar_exact(10, 2) == pytest.approx(0.0386, abs=1e-4)
    assert m.regressed and not m.float_scores and m.ci_low is None
    assert m.newly_failed_ids == tuple(f"f{i:03d}" for i in range(10))
    assert m.newly_passed_ids == ("p000", "p001")


def test_flips_that_are_not_significant_or_go_the_good_way_are_not_a_regression() -> None:
    for failed, passed in [(5, 2), (2, 10), (0, 0)]:
        before, after = flipped(failed, passed, same=5)
        m = compare(results({"s": {"m": before}}), results({"s": {"m": after}}), "b").metric(
            "s", "m"
        )
        assert m is not None and not m.regressed, (failed, passed)


def test_scores_of_exactly_0_or_1_keep_a_metric_pass_fail() -> None:
    rows: list[Row] = [("a", "passed", 1.0), ("b", "failed", 0.0), ("c", "passed", 1)]
    m = compare(results({"s": {"m": rows}}), results({"s": {"m": rows}}), "b").metric("s", "m")
    assert m is not None and not m.float_scores and m.mean_difference is None


def test_a_fractional_score_in_either_file_gives_the_metric_a_bootstrap_interval() -> None:
    # Every case still passes (threshold 0.5), but each score fell by 0.2: no flip, yet the
    # interval lies below zero, so the metric regressed.
    before: list[Row] = [(f"e{i}", "passed", 0.9) for i in range(40)]
    after: list[Row] = [(f"e{i}", "passed", 0.7) for i in range(40)]
    m = compare(results({"s": {"m": before}}), results({"s": {"m": after}}), "b").metric("s", "m")
    assert m is not None and m.float_scores
    assert (m.newly_failed, m.newly_passed, m.p_value) == (0, 0, 1.0)
    assert m.mean_difference == pytest.approx(-0.2)
    assert m.ci_low == pytest.approx(-0.2) and m.ci_high == pytest.approx(-0.2)
    assert m.regressed


def test_a_failed_row_without_a_score_counts_as_a_score_of_0_in_a_float_metric() -> None:
    before: list[Row] = [("a", "passed", 0.6), ("b", "passed", 0.8)]
    after: list[Row] = [("a", "passed", 0.6), ("b", "error")]
    m = compare(results({"s": {"m": before}}), results({"s": {"m": after}}), "b").metric("s", "m")
    assert m is not None and m.mean_difference == pytest.approx(-0.4)


def test_suites_and_the_run_pool_their_metrics_paired_cases() -> None:
    b1, a1 = flipped(failed=6, passed=0, same=4)
    b2, a2 = flipped(failed=5, passed=1, same=2)
    baseline = results({"s": {"m1": b1, "m2": b2}, "t": {"m": [("z", "passed")]}})
    run = results({"s": {"m1": a1, "m2": a2}, "u": {"m": [("z", "passed")]}})
    comparison = compare(baseline, run, "b")
    suite = comparison.suites["s"].stats
    assert (suite.newly_failed, suite.newly_passed, suite.both_passed) == (11, 1, 6)
    assert suite.p_value == mcnemar_exact(11, 1)
    assert suite.regressed
    # A suite or metric on one side only: all its cases unpaired, nothing to conclude.
    assert comparison.suites["t"].stats.only_in_baseline == 1
    assert comparison.suites["u"].stats.only_in_run == 1
    assert comparison.suites["u"].stats.baseline_score is None
    overall = comparison.overall
    assert (overall.newly_failed, overall.only_in_run, overall.only_in_baseline) == (11, 1, 1)


def test_a_pool_of_float_and_pass_fail_metrics_resamples_both_kinds_of_difference() -> None:
    # m1 (pass/fail): 4 newly failed of 10 (-1 each); m2 (float): 10 cases up 0.1 each.
    b1, a1 = flipped(failed=4, passed=0, same=6)
    b2: list[Row] = [(f"g{i}", "passed", 0.5) for i in range(10)]
    a2: list[Row] = [(f"g{i}", "passed", 0.6) for i in range(10)]
    comparison = compare(
        results({"s": {"m1": b1, "m2": b2}}), results({"s": {"m1": a1, "m2": a2}}), "b"
    )
    suite = comparison.suites["s"].stats
    assert suite.float_scores
    assert suite.mean_difference == pytest.approx((-4 + 1.0) / 20)


def test_the_same_inputs_give_the_same_section() -> None:
    before: list[Row] = [(f"e{i}", "passed", (i % 7) / 7) for i in range(50)]
    after: list[Row] = [(f"e{i}", "failed", (i % 5) / 5) for i in range(50)]
    first = compare(results({"s": {"m": before}}), results({"s": {"m": after}}), "b").as_json()
    again = compare(results({"s": {"m": before}}), results({"s": {"m": after}}), "b").as_json()
    assert orjson.dumps(first) == orjson.dumps(again)
    assert first["baseline"] == {"file": "b", "timestamp": "2026-01-02T03:04:05.000Z"}
    assert first["alpha"] == 0.05
    assert set(first["suites"]["s"]["metrics"]["m"]) >= {
        "both_passed",
        "both_failed",
        "newly_failed",
        "newly_passed",
        "only_in_run",
        "only_in_baseline",
        "baseline_score",
        "run_score",
        "change",
        "p_value",
        "mean_difference",
        "ci_low",
        "ci_high",
        "regressed",
        "newly_failed_ids",
        "newly_passed_ids",
    }


def test_alpha_outside_0_and_1_is_refused() -> None:
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        compare(results({}), results({}), "b", alpha=0)


# --- gates ----------------------------------------------------------------------------------------


def test_the_regression_gate_names_the_metric_the_flips_and_the_p_value() -> None:
    before, after = flipped(failed=10, passed=2, same=30)
    comparison = compare(results({"s": {"m": before}}), results({"s": {"m": after}}), "b")
    assert regression_gates(comparison, fail_on_regression=False) == []
    [gate] = regression_gates(comparison, fail_on_regression=True)
    assert (gate.name, gate.suite, gate.metric) == ("regression", "s", "m")
    assert gate_lines([gate]) == [
        "trainloop gate not met: regression of s/m: flips -10 +2, p=0.039 < alpha 0.05"
    ]


def test_max_drop_fails_on_the_paired_drop_whatever_the_statistics() -> None:
    # 2 of 20 newly failed: p = 0.5, far from significant, but the score fell by 0.1.
    before, after = flipped(failed=2, passed=0, same=18)
    comparison = compare(results({"s": {"m": before}}), results({"s": {"m": after}}), "b")
    assert regression_gates(comparison, True, {("s", "m"): 0.1}) == []  # a drop of 0.1 is allowed
    [metric_gate, overall_gate] = regression_gates(comparison, True, {("s", "m"): 0.05}, 0.05)
    assert metric_gate.message == (
        "max_drop of s/m: paired score 1.000 -> 0.900, a drop of 0.100 > 0.05 "
        "(flips -2 +0, p=0.500)"
    )
    assert overall_gate.suite is None and overall_gate.message.startswith(
        "--trainloop-max-drop: paired score 1.000 -> 0.900"
    )


def test_a_metric_with_nothing_paired_has_no_gate() -> None:
    comparison = compare(results({"s": {"m": [("a", "passed")]}}), results({"s": {"m": []}}), "b")
    assert regression_gates(comparison, True, {("s", "m"): 0.0}, 0.0) == []


# --- terminal -------------------------------------------------------------------------------------


def test_the_table_cells_show_baseline_change_flips_and_p() -> None:
    before, after = flipped(failed=3, passed=1, same=6)
    m = compare(results({"s": {"m": before}}), results({"s": {"m": after}}), "b").metric("s", "m")
    # baseline 9/10 passed, now 7/10: change -0.2; p = 2 * (1 + 4) / 16 = 0.625.
    assert cells(m) == ("0.900", "-0.200", "-3 +1", "0.625")
    assert cells(None) == ("-", "-", "", "")


def test_the_newly_failed_block_lists_ten_ids_then_a_count() -> None:
    before, after = flipped(failed=12, passed=0)
    comparison = compare(results({"s": {"m": before}}), results({"s": {"m": after}}), "b")
    ids = ", ".join(f"f{i:03d}" for i in range(10))
    assert newly_failed_lines(comparison) == [
        "newly failed since the baseline:",
        f"  s/m: {ids} and 2 more",
    ]
    unchanged = compare(results({"s": {"m": before}}), results({"s": {"m": before}}), "b")
    assert newly_failed_lines(unchanged) == []


def test_ids_and_names_from_a_file_cannot_drive_the_terminal() -> None:
    evil = "e\x1b[2J\n"
    comparison = compare(
        results({"s": {"m\x07": [(evil, "passed")]}}),
        results({"s": {"m\x07": [(evil, "failed")]}}),
        "b",
    )
    assert newly_failed_lines(comparison)[1] == "  s/m\\x07: e\\x1b[2J\\n"


# --- files ----------------------------------------------------------------------------------------


def write(path: Path, data: object) -> Path:
    path.write_bytes(orjson.dumps(data))
    return path


def test_reading_names_the_file_and_what_is_wrong_with_it(tmp_path: Path) -> None:
    cases: list[tuple[Path, str]] = [
        (tmp_path / "missing.json", "no such file"),
        (tmp_path, "is a folder"),
        (write(tmp_path / "list.json", [1]), "not a results file (no 'suites' object at the top)"),
        (
            write(tmp_path / "summary.json", {"suites": {"s": {"metrics": {"m": {"score": 1}}}}}),
            "s/m has no per-case 'details' (a summary file?",
        ),
        (
            write(tmp_path / "verdict.json", results({"s": {"m": [("a", "maybe")]}})),
            "case a of s/m has no valid 'verdict'",
        ),
    ]
    (tmp_path / "text.json").write_text("not json")
    cases.append((tmp_path / "text.json", "not a results file (not valid JSON"))
    for path, problem in cases:
        with pytest.raises(ResultsFileError) as raised:
            read_results(path)
        assert str(raised.value).startswith(f"{path}: ")
        assert problem in str(raised.value)
    good = write(tmp_path / "good.json", results({"s": {"m": [("a", "passed")]}}))
    assert read_results(good)["suites"]["s"]["metrics"]["m"]["details"][0]["event_id"] == "a"


def test_latest_is_the_newest_complete_run_other_than_this_one(tmp_path: Path) -> None:
    def run(stamp: str, **top: Any) -> Path:
        path = tmp_path / f"evaluation_results_{stamp}.json"
        return write(path, results({"s": {"m": [("a", "passed")]}}, **top))

    assert latest_complete(tmp_path) is None
    older = run("20260101T000000Z", complete=True)
    same_second = run("20260102T000000Z_2", complete=True)
    run("20260102T000000Z", complete=True)
    run("20260103T000000Z", complete=False)  # a -k run
    run("20260104T000000Z")  # written before runs said whether they were complete
    (tmp_path / "evaluation_results_20260105T000000Z.json").write_text("{damaged")
    this = run("20260106T000000Z", complete=True)
    assert latest_complete(tmp_path, exclude=this) == same_second
    assert latest_complete(tmp_path, exclude=Path(os.path.relpath(this))) == same_second
    assert latest_complete(tmp_path) == this
    same_second.unlink()
    this.unlink()
    assert latest_complete(tmp_path).name == "evaluation_results_20260102T000000Z.json"  # type: ignore[union-attr]
    assert older.exists()

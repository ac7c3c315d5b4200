"""`pytest-trainloop compare`, the installed console script, on the files of two real runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import (
    PLANNED_METRICS,
    Project,
    planned_comparison_metrics,
    planned_events,
)

SCRIPT = Path(sys.executable).with_name("pytest-trainloop")


@pytest.fixture
def two_runs(project: Project) -> tuple[Path, Path]:
    """The baseline run serially, the run with two xdist workers, each to its own file."""
    project.metrics(PLANNED_METRICS)
    baseline, run = project.path / "baseline.json", project.path / "run.json"
    planned_events(project, 0)
    project.run("--trainloop", f"--trainloop-results={baseline}").assert_outcomes(
        passed=48, failed=12
    )
    planned_events(project, 1)
    project.run("--trainloop", "-n2", f"--trainloop-results={run}").assert_outcomes(
        passed=31, failed=29
    )
    return baseline, run


def _script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_comparison_counts_equal_those_worked_from_the_two_runs_verdicts(
    two_runs: tuple[Path, Path],
) -> None:
    baseline, run = two_runs
    done = _script("compare", baseline, run, "--json")
    assert done.returncode == 0, done.stderr
    section = orjson.loads(done.stdout)
    metrics = planned_comparison_metrics(section, baseline)
    # says_yes: 12 newly failed, 2 newly passed: p = 2 * (1 + 14 + 91) / 2^14 = 0.0129.
    says_yes = metrics["says_yes"]
    assert says_yes["p_value"] == pytest.approx(212 / 16384)
    assert says_yes["float_scores"] is False and says_yes["ci_low"] is None
    assert says_yes["regressed"] is True
    assert says_yes["baseline_score"] == round(22 / 28, 4)
    assert says_yes["run_score"] == round(12 / 28, 4)
    # graded has float scores: mean paired change (12 * -0.5 + 10 * -0.05 + 4 * 0.4) / 28.
    graded = metrics["graded"]
    assert graded["float_scores"] is True
    assert graded["mean_difference"] == pytest.approx(-4.9 / 28, abs=1e-4)
    assert graded["ci_low"] <= graded["mean_difference"] <= graded["ci_high"] < 0
    assert graded["regressed"] is True
    # The suite and the run pool both metrics' paired cases.
    for pooled in (section["suites"]["s"], section["overall"]):
        for key in ("both_passed", "newly_failed", "newly_passed", "only_in_run"):
            assert pooled[key] == says_yes[key] + graded[key]


def test_the_same_two_files_give_the_same_section_every_time(
    two_runs: tuple[Path, Path],
) -> None:
    baseline, run = two_runs
    assert _script("compare", baseline, run, "--json").stdout == (
        _script("compare", baseline, run, "--json").stdout
    )


def test_the_table_shows_flips_p_values_and_the_newly_failed_ids(
    two_runs: tuple[Path, Path],
) -> None:
    baseline, run = two_runs
    done = _script("compare", baseline, run)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "suite",
        "metric",
        "passed/total",
        "score",
        "baseline",
        "change",
        "flips",
        "p",
    ]
    says_yes = next(line for line in lines if line.startswith("s ") and "says_yes" in line)
    cells = ["14/30", "0.467", "0.786", "-0.357", "-12", "+2", "0.013", "REGRESSED"]
    assert says_yes.split()[2:] == cells
    ids = ", ".join(f"r{i:02d}" for i in range(1, 11))
    assert f"  s/says_yes: {ids} and 2 more" in lines
    assert f"  s/graded: {ids} and 2 more" in lines


def test_fail_on_regression_exits_1_with_a_line_per_regressed_metric(
    two_runs: tuple[Path, Path],
) -> None:
    baseline, run = two_runs
    done = _script("compare", baseline, run, "--fail-on-regression")
    assert done.returncode == 1
    assert (
        "trainloop gate not met: regression of s/says_yes: flips -12 +2, p=0.013 < alpha 0.05"
        in done.stdout.splitlines()
    )
    assert "regression of s/graded" in done.stdout
    # At alpha 0.01 says_yes (p = 0.013) is no longer significant; graded's 99% interval still
    # lies below 0.
    strict = _script("compare", baseline, run, "--fail-on-regression", "--alpha", "0.01")
    assert strict.returncode == 1
    [gate] = [line for line in strict.stdout.splitlines() if "gate not met" in line]
    assert gate.startswith("trainloop gate not met: regression of s/graded: flips -12 +4, p=")
    assert gate.endswith("below 0")


def test_a_run_compared_with_itself_passes_every_gate(two_runs: tuple[Path, Path]) -> None:
    _, run = two_runs
    assert _script("compare", run, run, "--fail-on-regression").returncode == 0


def test_a_missing_or_foreign_file_is_a_usage_error_naming_it(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    baseline, run = two_runs
    missing = _script("compare", tmp_path / "nope.json", run)
    assert missing.returncode == 4
    assert f"{tmp_path / 'nope.json'}: no such file" in missing.stderr
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"hello": 1}')
    done = _script("compare", baseline, foreign)
    assert done.returncode == 4
    assert f"{foreign}: not a results file" in done.stderr
    bad_alpha = _script("compare", baseline, run, "--alpha", "1.5")
    assert bad_alpha.returncode == 4
    assert "--alpha: must be a number between 0 and 1, got '1.5'" in bad_alpha.stderr
    assert _script("compare", baseline).returncode == 4


def test_the_console_script_does_not_import_pytest() -> None:
    # It starts fast and works where pytest is broken or absent; only results files are read.
    code = (
        "import sys, pytest_trainloop.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"

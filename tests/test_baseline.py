"""--trainloop-baseline: a run compared with an earlier one at its end, case by case, in its
results, its terminal summary, its JUnit XML and its exit code."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import (
    PLANNED_METRICS,
    Project,
    planned_comparison_metrics,
    planned_events,
)

SCRIPT = Path(sys.executable).with_name("pytest-trainloop")
MODES = {"serial": ["-p", "no:xdist"], "-n 2": ["-n2"], "batch": ["--trainloop-batch"]}


def _with(metric: str, keywords: str) -> str:
    """PLANNED_METRICS with more marker keywords on `metric`."""
    return PLANNED_METRICS.replace(
        f'tags=["t"])\ndef {metric}', f'tags=["t"], {keywords})\ndef {metric}'
    )


def _baseline_run(project: Project, metrics: str = PLANNED_METRICS) -> Path:
    project.metrics(metrics)
    planned_events(project, 0)
    baseline = project.path / "baseline.json"
    project.run("--trainloop", f"--trainloop-results={baseline}")
    planned_events(project, 1)
    return baseline


def _compared_run(project: Project, baseline: Path, *args: str) -> pytest.RunResult:
    run = project.path / "run.json"
    return project.run(
        "--trainloop", f"--trainloop-results={run}", f"--trainloop-baseline={baseline}", *args
    )


def _results(project: Project) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((project.path / "run.json").read_bytes())
    return data


def _script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("mode", list(MODES))
def test_the_runs_comparison_equals_the_counts_worked_from_both_runs_verdicts(
    project: Project, mode: str
) -> None:
    baseline = _baseline_run(project)
    result = _compared_run(project, baseline, *MODES[mode])
    assert result.ret == 1  # no gate: the failing cases fail, as without a baseline
    section = _results(project)["comparison"]
    metrics = planned_comparison_metrics(section, baseline)
    assert metrics["says_yes"]["p_value"] == pytest.approx(212 / 16384)  # 12 down, 2 up
    assert metrics["graded"]["float_scores"] is True
    # The console script on the same two files prints the very same section, byte for byte.
    done = _script("compare", baseline, project.path / "run.json", "--json")
    assert done.returncode == 0, done.stderr
    written = orjson.dumps(section, option=orjson.OPT_INDENT_2).decode() + "\n"
    assert done.stdout == written


def test_the_summary_table_gains_the_comparisons_columns_and_the_newly_failed_ids(
    project: Project,
) -> None:
    baseline = _baseline_run(project)
    result = _compared_run(project, baseline)
    result.stdout.fnmatch_lines(
        [
            "suite  metric    passed/total  score  baseline  change  flips   p      gate",
            "s      graded    17/30         0.567  0.857     -0.286  -12 +4  0.077 * REGRESSED",
            "s      says_yes  14/30         0.467  0.786     -0.357  -12 +2  0.013 * REGRESSED",
            "overall: 31/60 passed, score 0.517",
            f"compared with {baseline} (*): 56 paired cases, score 0.821 -> 0.500, "
            "flips -24 +6, p=0.001, REGRESSED; 4 only in this run, 4 only in the baseline",
            "newly failed since the baseline:",
            "  s/graded: r01, r02, r03, r04, r05, r06, r07, r08, r09, r10 and 2 more",
            "  s/says_yes: r01, r02, r03, r04, r05, r06, r07, r08, r09, r10 and 2 more",
        ]
    )
    assert "gate not met" not in result.stdout.str()  # REGRESSED alone gates nothing


@pytest.mark.parametrize("mode", ["serial", "-n 2"])
def test_fail_on_regression_exits_1_naming_the_metric_its_flips_and_p_value(
    project: Project, mode: str
) -> None:
    baseline = _baseline_run(project)
    result = _compared_run(project, baseline, "--trainloop-fail-on-regression", *MODES[mode])
    assert result.ret == 1
    # Failing paired cases are tolerated (xfailed) as min_score tolerates them; r32's failure
    # has no baseline to be judged against: it fails.
    result.assert_outcomes(passed=31, failed=1, xfailed=28)
    result.stdout.fnmatch_lines(
        [
            "trainloop gate not met: regression of s/graded: flips -12 +4, p=0.077; "
            "mean score change -0.175, 95% interval * below 0",
            "trainloop gate not met: regression of s/says_yes: flips -12 +2, p=0.013 < alpha 0.05",
        ]
    )
    data = _results(project)
    assert data["gates_held"] is False
    says_yes = next(g for g in data["gates"] if g["metric"] == "says_yes")
    assert says_yes == {
        "gate": "regression",
        "suite": "s",
        "metric": "says_yes",
        "bound": 0.05,
        "score": round(12 / 28, 4),
        "held": False,
        "baseline_score": round(22 / 28, 4),
        "newly_failed": 12,
        "newly_passed": 2,
        "p_value": pytest.approx(212 / 16384),
    }
    # The console script on the run's file gives the run's exit code.
    done = _script("compare", baseline, project.path / "run.json", "--fail-on-regression")
    assert done.returncode == 1


def test_fail_on_regression_without_a_regression_exits_0_with_failures_shown_as_xfailed(
    project: Project,
) -> None:
    baseline = _baseline_run(project)
    planned_events(project, 0)  # the baseline's own events again: nothing changed
    result = _compared_run(project, baseline, "--trainloop-fail-on-regression", "-rx")
    assert result.ret == 0
    result.assert_outcomes(passed=48, xfailed=12)
    result.stdout.fnmatch_lines(
        ["XFAIL test_metrics.py::says_yes[[]r13[]] - tolerated by --trainloop-fail-on-regression*"]
    )
    data = _results(project)
    assert data["gates_held"] is True
    assert [(g["gate"], g["metric"], g["held"]) for g in data["gates"]] == [
        ("regression", "graded", True),
        ("regression", "says_yes", True),
    ]


@pytest.mark.parametrize(("bound", "code"), [(0.4, 0), (0.3, 1)])
@pytest.mark.parametrize("mode", ["serial", "batch"])
def test_the_markers_max_drop_gates_the_paired_score_and_the_console_script_agrees(
    project: Project, bound: float, code: int, mode: str
) -> None:
    # says_yes falls from 22/28 to 12/28 paired: a drop of 0.357. graded is tolerated by its
    # min_score of 0, so only says_yes' gate decides.
    baseline = _baseline_run(project, _with_both(bound))
    result = _compared_run(project, baseline, *MODES[mode])
    assert result.ret == code, result.stdout.str()
    line = (
        f"trainloop gate not met: max_drop of s/says_yes: paired score 0.786 -> 0.429, a drop "
        f"of 0.357 > {bound:g} (flips -12 +2, p=0.013)"
    )
    assert (line in result.stdout.str()) == (code == 1)
    data = _results(project)
    assert data["suites"]["s"]["metrics"]["says_yes"]["max_drop"] == bound
    [gate] = [g for g in data["gates"] if g["gate"] == "max_drop"]
    assert (gate["bound"], gate["score"], gate["drop"], gate["held"]) == (
        bound,
        round(12 / 28, 4),
        0.3571,
        code == 0,
    )
    done = _script("compare", baseline, project.path / "run.json", "--fail-on-regression")
    # The script applies the markers' bounds the run recorded (and, with --fail-on-regression,
    # the regression gates the run did not have: graded and says_yes regressed).
    assert done.returncode == 1
    if mode == "serial" and code == 0:
        # the paired failing cases of says_yes are xfailed; r32 of graded by its min_score
        assert result.parseoutcomes()["xfailed"] == 29


def _with_both(bound: float) -> str:
    return _with("says_yes", f"max_drop={bound}").replace(
        'tags=["t"])\ndef graded', 'tags=["t"], min_score=0.0)\ndef graded'
    )


@pytest.mark.parametrize(("bound", "code"), [(0.35, 0), (0.3, 1)])
def test_trainloop_max_drop_gates_the_overall_paired_score(
    project: Project, bound: float, code: int
) -> None:
    # Both metrics tolerated by min_score=0; overall paired 46/56 -> 28/56: a drop of 0.321.
    metrics = PLANNED_METRICS.replace('tags=["t"])', 'tags=["t"], min_score=0.0)')
    baseline = _baseline_run(project, metrics)
    result = _compared_run(project, baseline, f"--trainloop-max-drop={bound}")
    assert result.ret == code
    assert (
        f"trainloop gate not met: --trainloop-max-drop: paired score 0.821 -> 0.500, a drop "
        f"of 0.321 > {bound:g}" in result.stdout.str()
    ) == (code == 1)
    [gate] = [g for g in _results(project)["gates"] if g["gate"] == "max_drop"]
    assert (gate["suite"], gate["metric"], gate["held"]) == (None, None, code == 0)


def test_latest_compares_with_the_newest_complete_run_of_the_results_folder(
    project: Project,
) -> None:
    project.metrics(PLANNED_METRICS)
    planned_events(project, 0)
    project.run("--trainloop")
    [first] = project.results_files()
    planned_events(project, 1)
    project.run("--trainloop", "--trainloop-baseline=latest")
    section = project.results()["comparison"]
    assert section["baseline"]["file"] == str(first)
    assert section["suites"]["s"]["metrics"]["says_yes"]["newly_failed"] == 12


def test_a_partial_run_is_compared_on_the_cases_it_has(project: Project) -> None:
    baseline = _baseline_run(project)
    _compared_run(project, baseline, "-k", "says_yes and (r01 or r13 or r31)")
    data = _results(project)
    assert data["complete"] is False
    says_yes = data["comparison"]["suites"]["s"]["metrics"]["says_yes"]
    assert (says_yes["newly_failed_ids"], says_yes["newly_passed_ids"]) == (["r01"], ["r13"])
    assert (says_yes["only_in_run"], says_yes["only_in_baseline"]) == (1, 28)


def test_junit_xml_gives_each_case_the_baselines_verdict_of_its_event(project: Project) -> None:
    baseline = _baseline_run(project)
    _compared_run(project, baseline, "--junitxml=out.xml")
    root = ET.parse(project.path / "out.xml").getroot()
    verdicts = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}.get(
            "trainloop_baseline_verdict"
        )
        for case in root.iter("testcase")
    }
    assert verdicts["says_yes[r01]"] == "passed"  # and failed now
    assert verdicts["says_yes[r13]"] == "failed"  # and passed now
    assert verdicts["graded[r25]"] == "failed"
    assert verdicts["says_yes[r31]"] == "absent"  # a new event


def test_batch_mode_has_no_per_case_junit_entry_to_carry_a_baseline_verdict(
    project: Project,
) -> None:
    baseline = _baseline_run(project)
    _compared_run(project, baseline, "--trainloop-batch", "--junitxml=out.xml")
    xml = (project.path / "out.xml").read_text()
    assert "trainloop_baseline_verdict" not in xml
    assert _results(project)["comparison"]["overall"]["newly_failed"] == 24


ROOT = Path(__file__).resolve().parents[1]
EDITED = 7  # geography replies given a second sentence: answers_in_one_sentence fails on them


def _copy_example(to: Path) -> Path:
    """example_project's metrics, config and events, in `to` (the checkout is left alone)."""
    example = ROOT / "example_project"
    to.mkdir()
    for name in ("pytest.ini", "trainloop.config.yaml"):
        (to / name).write_bytes((example / name).read_bytes())
    for folder in ("evals", "data/events", "data/judge_cache"):
        for path in (example / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                target = to / path.relative_to(example)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
    return to


def _edit_replies(events: Path) -> tuple[list[str], str]:
    """Give EDITED one-sentence capital answers a second sentence, and correct one wrong
    answer (Canada's): the ids that now fail answers_in_one_sentence, and the one corrected."""
    edited: list[str] = []
    corrected = ""
    for path in sorted(events.glob("*.jsonl")):
        lines = path.read_bytes().splitlines()
        for n, line in enumerate(lines):
            try:
                event = orjson.loads(line)
                reply, tags = event["output"]["content"], event["metadata"]["tags"]
            except (orjson.JSONDecodeError, TypeError, KeyError):
                continue  # the example's bad lines stay as they are
            if "geography" not in tags or "qa" in tags:
                continue
            if not corrected and reply.startswith("The capital of Canada is its largest"):
                event["output"]["content"] = "The capital of Canada is Ottawa."
                corrected = event["metadata"]["request_id"]
            elif (
                len(edited) < EDITED
                and reply.startswith("The capital of")
                and reply.count(".") == 1
            ):
                event["output"]["content"] = reply + " It is a lovely city."
                edited.append(event["metadata"]["request_id"])
            else:
                continue
            lines[n] = orjson.dumps(event)
        path.write_bytes(b"\n".join(lines) + b"\n")
    return sorted(edited), corrected


def test_two_runs_of_the_example_project_show_the_edited_replies_flips_and_p_value(
    tmp_path: Path,
) -> None:
    project = _copy_example(tmp_path / "example")
    before, after = tmp_path / "before.json", tmp_path / "after.json"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pytest", "--trainloop", "-p", "no:cacheprovider"]
        return subprocess.run(
            [*command, *args],
            cwd=project,
            env={**os.environ, "COLUMNS": "120"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    first = run(f"--trainloop-results={before}")
    assert first.returncode == 0, first.stdout
    edited, corrected = _edit_replies(project / "data" / "events")
    assert len(edited) == EDITED and corrected
    second = run(
        f"--trainloop-results={after}",
        f"--trainloop-baseline={before}",
        "--trainloop-fail-on-regression",
    )
    assert second.returncode == 1, second.stdout
    out = second.stdout
    # 7 newly failed, none newly passed: McNemar's p = 2 / 2^7 = 0.016.
    assert (
        "trainloop gate not met: regression of geography/answers_in_one_sentence: "
        "flips -7 +0, p=0.016 < alpha 0.05" in out
    )
    assert f"  geography/answers_in_one_sentence: {', '.join(edited)}" in out.splitlines()
    row = next(line for line in out.splitlines() if "names_the_capital" in line)
    assert "-0 +1" in row
    section = orjson.loads(after.read_bytes())["comparison"]["suites"]["geography"]["metrics"]
    one_sentence = section["answers_in_one_sentence"]
    assert one_sentence["newly_failed_ids"] == edited
    assert one_sentence["p_value"] == pytest.approx(2 / 2**7)
    assert one_sentence["regressed"] is True
    assert section["names_the_capital"]["newly_passed_ids"] == [corrected]
    # Every edited case is tolerated by the regression gate (xfailed): the gate alone fails it.
    assert " failed" not in out.splitlines()[-1]

"""The reports of a run: the HTML page and the Markdown summary a run writes when asked, GitHub's
job summary, the `pytest-trainloop report` command, and a failed case's event under -v."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from pytest_trainloop.stats import wilson_interval
from tests.browser import assert_nothing_injected, metric_rows
from tests.conftest import Project, documented_event

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("pytest-trainloop")

METRICS = """
import pytest

@pytest.mark.trainloop_suite("support", tags=["support"], min_score=0.2)
def replies_without_markup(event):
    return "<" not in event.response, "markup in the reply"

@pytest.mark.trainloop_suite("geography", tags=["geo"])
def names_the_capital(event):
    assert "Paris" in event.response, "expected Paris"
"""


def support_events(project: Project) -> None:
    project.events(
        [
            *(
                documented_event(f"req_ok{i}", ["support"], content=f"Glad to help {i}.")
                for i in range(4)
            ),
            documented_event("req_tag", ["support"], content="<b>hi</b>", prompt="Say hi"),
            documented_event("req_geo1", ["geo"], content="Paris.", prompt="Capital of France?"),
            documented_event("req_geo2", ["geo"], content="Lyon.", prompt="Capital of France?"),
        ]
    )
    project.metrics(METRICS)


def assert_page_shows(page: Any, results: dict[str, Any]) -> None:
    """The page's overall score and each metric's row are those of the results file."""
    assert page.inner_text("#overall-score") == f"{results['summary']['overall_score']:.3f}"
    rows = metric_rows(page)
    expected = {
        (suite, metric): m
        for suite, s in results["suites"].items()
        for metric, m in s["metrics"].items()
    }
    assert set(rows) == set(expected)
    for key, m in expected.items():
        low, high = wilson_interval(m["passed"], m["total"]) or (0, 0)
        assert rows[key][2:5] == [
            f"{m['passed']}/{m['total']}",
            f"{m['score']:.3f}",
            f"{low:.3f}\u2013{high:.3f}",
        ]


# --- the files of a run -------------------------------------------------------------------------


@pytest.mark.parametrize("dist", [["-p", "no:xdist"], ["-n", "2"]], ids=["serial", "-n2"])
def test_a_run_writes_its_page_and_summary_where_asked_and_says_where(
    project: Project, open_page: Any, dist: list[str]
) -> None:
    support_events(project)
    result = project.run(
        "--trainloop", *dist, "--trainloop-html", "out/report.html", "--trainloop-markdown", "s.md"
    )
    assert result.ret == 1  # req_geo2 fails a metric without a gate
    page_path, summary_path = project.path / "out" / "report.html", project.path / "s.md"
    lines = result.stdout.lines
    results_line = next(i for i, line in enumerate(lines) if line.startswith("results: "))
    assert lines[results_line + 1 : results_line + 3] == [
        f"html report: {page_path}",
        f"markdown: {summary_path}",
    ]
    results = project.results()

    opened = open_page(page_path)
    assert_page_shows(opened.page, results)
    # The conversations come from the run's events (the controller of -n 2 read them for it).
    case = opened.page.locator("details.case", has_text="req_geo2")
    case.locator("summary").click()
    assert "Capital of France?" in case.inner_text() and "day1.jsonl:7" in case.inner_text()
    assert opened.requests == [opened.page.url] and opened.errors == []
    assert_nothing_injected(opened)

    markdown = summary_path.read_text(encoding="utf-8")
    assert markdown.startswith("## trainloop: **FAILED**")
    assert "| geography | names\\_the\\_capital | 1/2 | 0.500 |" in markdown
    assert "req\\_geo2" in markdown


def test_the_ini_keys_ask_for_the_files_and_the_page_draws_the_earlier_runs(
    project: Project,
) -> None:
    support_events(project)
    project.pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "trainloop_html = report.html\ntrainloop_markdown = summary.md\n"
    )
    project.run("--trainloop")
    first = (project.path / "report.html").read_text(encoding="utf-8")
    assert "across 1 runs" in first
    project.run("--trainloop")
    page = (project.path / "report.html").read_text(encoding="utf-8")
    assert "across 2 runs" in page  # the first run, and this one drawn once
    assert (project.path / "summary.md").read_text(encoding="utf-8").startswith("## trainloop")


def test_a_partial_run_writes_a_page_marked_partial(project: Project) -> None:
    support_events(project)
    project.run("--trainloop", "-k", "capital", "--trainloop-html", "report.html")
    page = (project.path / "report.html").read_text(encoding="utf-8")
    assert "partial run" in page and "cases deselected" in page
    assert project.results()["complete"] is False


def test_a_report_that_cannot_be_written_is_named_and_the_results_are_kept(
    project: Project,
) -> None:
    support_events(project)
    (project.path / "a_file").write_text("not a folder")
    result = project.run("--trainloop", "--trainloop-html", "a_file/report.html")
    result.stdout.fnmatch_lines(
        [
            "trainloop: could not write the html report */a_file/report.html: "
            f"File exists: {project.path / 'a_file'}"
        ]
    )
    assert project.results()["summary"]["total"] == 7


# --- GitHub's job summary ---------------------------------------------------------------------


@pytest.fixture
def step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "step_summary.md"
    path.write_text("## an earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    return path


def test_the_summary_is_appended_to_githubs_job_summary(
    project: Project, step_summary: Path
) -> None:
    support_events(project)
    result = project.run("--trainloop")
    text = step_summary.read_text(encoding="utf-8")
    assert text.startswith("## an earlier step\n\n## trainloop: **FAILED**")
    assert "| support | replies\\_without\\_markup | 4/5 |" in text
    result.stdout.fnmatch_lines([f"step summary: {step_summary}"])
    project.run("--trainloop")
    assert step_summary.read_text(encoding="utf-8").count("## trainloop") == 2


@pytest.mark.parametrize(
    "turned_off", ["option", "ini"], ids=["--trainloop-no-step-summary", "ini-false"]
)
def test_the_job_summary_can_be_turned_off(
    project: Project, step_summary: Path, turned_off: str
) -> None:
    support_events(project)
    if turned_off == "ini":
        project.pytester.makeini(
            "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
            "trainloop_step_summary = false\n"
        )
        project.run("--trainloop")
    else:
        project.run("--trainloop", "--trainloop-no-step-summary")
    assert step_summary.read_text(encoding="utf-8") == "## an earlier step\n"


def test_a_run_that_evaluated_no_case_adds_nothing_to_the_job_summary(
    project: Project, step_summary: Path
) -> None:
    project.events([documented_event("req_1", ["other"])])
    project.metrics(METRICS)
    project.run("--trainloop")
    assert project.results()["summary"]["total"] == 0
    assert step_summary.read_text(encoding="utf-8") == "## an earlier step\n"


# --- a failed case in the terminal --------------------------------------------------------------

ANSI_REPLY = "\x1b[2J\x1b[31mRED\x1b[0m " + "word " * 200 + "THE END"
VERBOSE_METRICS = """
import pytest

@pytest.mark.trainloop_suite("support", tags=["support"])
def is_short(event):
    return len(event.response) < 100, "too long"
"""


@pytest.fixture
def long_reply(project: Project) -> Project:
    prompt = "Tell me \x1b]0;owned\x07everything\nin two lines"
    project.events(
        [
            documented_event("req_short", ["support"], content="Fine."),
            documented_event("req_long", ["support"], content=ANSI_REPLY, prompt=prompt),
        ]
    )
    project.metrics(VERBOSE_METRICS)
    return project


@pytest.mark.parametrize("dist", [["-p", "no:xdist"], ["-n", "2"]], ids=["serial", "-n2"])
def test_with_v_a_failed_case_shows_its_event_prompt_and_reply_cut(
    long_reply: Project, dist: list[str]
) -> None:
    result = long_reply.run("--trainloop", "-v", *dist)
    out = result.stdout.str()
    assert "\x1b" not in out and "\x07" not in out  # nothing reaches the terminal as control
    result.stdout.fnmatch_lines(
        [
            "support/is_short[[]req_long] failed: too long",
            "",
            "event: data/events/day1.jsonl:2",
            "last user message:",
            "    Tell me \\x1b]0;owned\\x07everything",
            "    in two lines",
            "reply:",
            "    \\x1b[[]2J\\x1b[[]31mRED\\x1b[[]0m word word *",
        ]
    )
    assert f"… ({len(ANSI_REPLY)} characters; -vv shows them all)" in out
    assert "THE END" not in out
    assert "req_short" not in out.split("= FAILURES =")[1]  # passing cases show nothing


def test_with_vv_the_whole_reply_is_shown(long_reply: Project) -> None:
    out = long_reply.run("--trainloop", "-vv").stdout.str()
    assert "word THE END" in out and "-vv shows them all" not in out
    assert "\x1b" not in out


def test_without_v_a_failed_case_shows_its_reason_alone(long_reply: Project) -> None:
    out = long_reply.run("--trainloop").stdout.str()
    failures = out.split("= FAILURES =")[1].split("= trainloop =")[0]
    assert "support/is_short[req_long] failed: too long" in failures
    assert "last user message" not in failures and "event:" not in failures


# --- the console script -------------------------------------------------------------------------


def script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_report_command_writes_a_page_and_a_summary_of_a_results_file(
    project: Project, tmp_path: Path, open_page: Any
) -> None:
    support_events(project)
    project.run("--trainloop")
    results_file = project.results_files()[-1]
    page, summary = tmp_path / "page.html", tmp_path / "summary.md"
    done = script("report", results_file, "-o", page, "--markdown", summary)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"report: {page}", f"markdown: {summary}"]
    assert_page_shows(open_page(page).page, project.results())
    assert summary.read_text(encoding="utf-8").startswith("## trainloop: **FAILED**")


def test_the_report_command_names_a_missing_results_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "run.json"
    done = script("report", missing, "-o", tmp_path / "page.html")
    assert done.returncode == 4
    assert str(missing) in done.stderr and done.stderr.startswith("pytest-trainloop report: error")
    assert not (tmp_path / "page.html").exists()


# --- the example project ------------------------------------------------------------------------


def test_the_example_projects_run_writes_a_page_that_passes_the_browser_checks(
    tmp_path: Path, open_page: Any
) -> None:
    """The issue's "done when": `pytest --trainloop --trainloop-html report.html` in a copy of
    example_project (its judge answers from the cache it ships; no key, no network)."""
    example = tmp_path / "example_project"
    shutil.copytree(
        ROOT / "example_project",
        example,
        ignore=shutil.ignore_patterns(".pytest_cache", "__pycache__", "results"),
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("GITHUB_STEP_SUMMARY", None)
    env.update(OPENAI_BASE_URL="http://127.0.0.1:9/v1", ANTHROPIC_BASE_URL="http://127.0.0.1:9")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--trainloop", "--trainloop-html", "report.html"],
        cwd=example,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert f"html report: {example / 'report.html'}" in done.stdout.splitlines()
    [results_file] = (example / "data" / "results").glob("evaluation_results_*.json")
    results = orjson.loads(results_file.read_bytes())

    opened = open_page(example / "report.html")
    assert_page_shows(opened.page, results)
    assert opened.requests == [opened.page.url] and opened.errors == []
    assert_nothing_injected(opened)
    # With JavaScript off every suite, metric and failing case is there to see.
    off = open_page(example / "report.html", javascript=False).page
    for suite, s in results["suites"].items():
        assert off.locator("#suites tbody td", has_text=suite).first.is_visible()
        for metric in s["metrics"]:
            assert off.locator("#metrics .mname", has_text=metric).first.is_visible()
    failing = [
        d
        for s in results["suites"].values()
        for m in s["metrics"].values()
        for d in m["details"]
        if d["verdict"] != "passed"
    ]
    summaries = off.locator("#case-list > details.case > summary")
    assert summaries.count() == len(failing) > 0
    assert all(summaries.nth(i).is_visible() for i in range(summaries.count()))

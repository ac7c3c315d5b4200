"""The HTML report, opened in a real headless Chromium: what a person sees is what the results
say, it works with JavaScript off, hostile replies stay text, and a large run's page filters."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from pytest_trainloop.events import read_events
from pytest_trainloop.report.history import gather_history
from pytest_trainloop.report.html import render_html, write_html_report
from pytest_trainloop.stats import wilson_interval
from tests.browser import assert_nothing_injected
from tests.conftest import Project, documented_event, flat_event

HOSTILE = {
    "req_script": "<script>alert(1)</script>",
    "req_img": "<img src=x onerror=alert(1)>",
    "req_svg": '"><svg onload=alert(1)>',
    "req_link": '<a href="javascript:alert(1)">click me</a> or javascript:alert(1)',
    "req_details": "</pre></details></div><script>alert(1)</script><details open><summary>x",
}

METRICS = """
import pytest

@pytest.mark.trainloop_suite("support", tags=["support"], min_score=0.2)
def replies_without_markup(event):
    return "<" not in event.response, f"markup in the reply: {event.response}"

@pytest.mark.trainloop_suite("support", tags=["support"])
def replies_briefly(event):
    return len(event.response) < 200

@pytest.mark.trainloop_suite("geography", tags=["geo"], min_score=0.4)
def names_the_capital(event):
    assert "Paris" in event.response, "expected Paris"
"""


def run_support_project(project: Project) -> dict[str, Any]:
    """A real run: kind replies, hostile replies (and a hostile prompt, tag and model), and a
    geography suite with one wrong capital."""
    events = [
        documented_event(f"req_ok{i}", ["support"], content=f"Glad to help, customer {i}.")
        for i in range(6)
    ]
    events += [
        documented_event(
            request_id,
            ["support", "<b>tag</b>"],
            content=reply,
            prompt=f"Tell me {reply}",
            model="<img src=x onerror=alert(2)>",
        )
        for request_id, reply in HOSTILE.items()
    ]
    events += [
        documented_event("req_geo1", ["geo"], content="Paris.", prompt="Capital of France?"),
        documented_event("req_geo2", ["geo"], content="Lyon.", prompt="Capital of France?"),
    ]
    project.events(events)
    project.metrics(METRICS)
    result = project.run("--trainloop")
    result.assert_outcomes(passed=18, xfailed=6)
    return project.results()


def render_to(project: Project, results: dict[str, Any], path: Path) -> Path:
    events = {event.id: event for event in read_events(project.data).events}
    history = gather_history(project.data / "results")
    path.write_text(render_html(results, events=events, history=history), encoding="utf-8")
    return path


def failing(results: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (suite, metric, detail)
        for suite, s in results["suites"].items()
        for metric, m in s["metrics"].items()
        for detail in m["details"]
        if detail["verdict"] != "passed"
    ]


def test_the_page_shows_the_scores_of_the_results_file(
    project: Project, tmp_path: Path, open_page: Any
) -> None:
    results = run_support_project(project)
    opened = open_page(render_to(project, results, tmp_path / "report.html"))
    page = opened.page

    assert page.inner_text("#overall-score") == f"{results['summary']['overall_score']:.3f}"
    rows = page.eval_on_selector_all(
        "#metrics tbody tr", "rows => rows.map(r => Array.from(r.cells, c => c.innerText.trim()))"
    )
    shown = {(row[0], row[1].split()[0]): row for row in rows}
    expected = {
        (suite, metric): m
        for suite, s in results["suites"].items()
        for metric, m in s["metrics"].items()
    }
    assert set(shown) == set(expected)
    for key, m in expected.items():
        row = shown[key]
        assert row[2] == f"{m['passed']}/{m['total']}"
        assert row[3] == f"{m['score']:.3f}"
        low, high = wilson_interval(m["passed"], m["total"]) or (0, 0)
        assert row[4] == f"{low:.3f}\u2013{high:.3f}"
        assert row[7].split()[0] == str(m["failed"] + m["errors"])
    # The worst metric comes first and says so.
    worst = min(expected, key=lambda k: expected[k]["score"])
    assert (rows[0][0], rows[0][1].split()[0]) == worst and "worst" in rows[0][1]
    gates = page.eval_on_selector_all(
        "#gates tbody tr", "rows => rows.map(r => Array.from(r.cells, c => c.innerText.trim()))"
    )
    assert [(g[1], g[3]) for g in gates] == [
        (f"{g['suite']}/{g['metric']}", "held" if g["held"] else "not held")
        for g in results["gates"]
    ]
    assert opened.requests == [page.url]  # self-contained: the page asked for nothing else
    assert opened.errors == []  # its script ran under its own content policy


def test_with_javascript_off_every_suite_metric_and_failing_case_is_visible(
    project: Project, tmp_path: Path, open_page: Any
) -> None:
    results = run_support_project(project)
    opened = open_page(render_to(project, results, tmp_path / "report.html"), javascript=False)
    page = opened.page

    for suite, s in results["suites"].items():
        assert page.locator("#suites tbody td", has_text=suite).first.is_visible()
        for metric in s["metrics"]:
            assert page.locator("#metrics .mname", has_text=metric).is_visible()
    cases = page.locator("#case-list > details.case > summary")
    assert cases.count() == len(failing(results)) == 6
    texts = [cases.nth(i).inner_text() for i in range(cases.count())]
    assert all(cases.nth(i).is_visible() for i in range(cases.count()))
    for suite, metric, detail in failing(results):
        assert any(f"{suite}/{metric}" in t and detail["event_id"] in t for t in texts)
    # A case opens without a script, showing the whole conversation and reply.
    case = page.locator("details.case", has_text="req_geo2")
    case.locator("summary").click()
    body = case.inner_text()
    assert "Capital of France?" in body and "Lyon." in body and "expected Paris" in body
    assert "data/events/day1.jsonl:13" in body
    assert not page.locator("#filter").is_visible()  # it would do nothing without JavaScript
    assert_nothing_injected(opened)


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_hostile_replies_run_no_script_and_show_as_text(
    project: Project, tmp_path: Path, open_page: Any, javascript: bool
) -> None:
    results = run_support_project(project)
    opened = open_page(render_to(project, results, tmp_path / "report.html"), javascript)
    page = opened.page
    # </details> in a reply closed nothing: one element per failing case, each with its summary.
    assert page.locator("#case-list > details.case").count() == len(failing(results))
    assert page.locator("details.case > summary").count() == len(failing(results))
    for request_id, reply in HOSTILE.items():
        case = page.locator("details.case", has_text=request_id).first
        case.locator("summary").click()
        text = case.inner_text()
        assert f"Tell me {reply}" in text  # the prompt
        assert case.locator("pre.reply").inner_text() == reply
        assert f"markup in the reply: {reply}" in text  # the reason
        assert "model <img src=x onerror=alert(2)>" in text
        assert "<b>tag</b>" in text
    assert "<img src=x onerror=alert(2)>" in page.inner_text("#breakdown")
    page.wait_for_timeout(200)  # an onerror or onload would have fired by now
    assert_nothing_injected(opened)


def test_the_filter_narrows_a_page_of_five_thousand_failures(
    project: Project, tmp_path: Path, open_page: Any
) -> None:
    project.events(
        documented_event(
            f"req_{i:05d}",
            ["bulk"],
            content=f"answer {i}" + (" needle" if i % 10 == 3 else ""),
            prompt=f"question {i}",
        )
        for i in range(5000)
    )
    project.metrics(
        "import pytest\n"
        "@pytest.mark.trainloop_suite('bulk', tags=['bulk'])\n"
        "def never_right(event):\n"
        "    return False, f'wrong: {event.response}'\n"
    )
    project.run("--trainloop", "--trainloop-batch", "--trainloop-batch-size", "1000")
    results = project.results()
    assert results["summary"]["failed"] == 5000
    opened = open_page(render_to(project, results, tmp_path / "report.html"))
    page = opened.page

    cases = page.locator("#case-list > details.case")
    assert cases.count() == 1000
    assert "… and 4000 more failing cases" in page.inner_text("#cases")
    page.fill("#filter", "needle")
    assert page.locator("#case-list > details.case:visible").count() == 100
    assert page.inner_text("#filter-count") == "100 of 1000 shown"
    page.fill("#filter", "req_00421")
    visible = page.locator("#case-list > details.case:visible")
    assert visible.count() == 1 and "req_00421" in visible.inner_text()
    page.fill("#filter", "")
    assert page.locator("#case-list > details.case:visible").count() == 1000
    # Sorting a table by a column is the script's other job.
    page.click("#metrics thead th:has-text('score')")
    assert opened.errors == []


def compare(baseline: dict[str, Any], run: dict[str, Any], baseline_file: str) -> dict[str, Any]:
    """A comparison section as the comparison writes it, counted here from the two runs."""
    suites: dict[str, Any] = {}
    for suite, s in run["suites"].items():
        metrics = {}
        for metric, m in s["metrics"].items():
            before = {
                d["event_id"]: d["verdict"]
                for d in baseline["suites"][suite]["metrics"][metric]["details"]
            }
            now = {d["event_id"]: d["verdict"] for d in m["details"]}
            paired = sorted(set(before) & set(now))
            newly_failed = [i for i in paired if before[i] == "passed" != now[i]]
            newly_passed = [i for i in paired if before[i] != "passed" == now[i]]
            base = sum(before[i] == "passed" for i in paired) / len(paired)
            score = sum(now[i] == "passed" for i in paired) / len(paired)
            metrics[metric] = {
                "baseline_score": base,
                "run_score": score,
                "change": score - base,
                "newly_failed": len(newly_failed),
                "newly_passed": len(newly_passed),
                "p_value": 0.031 if newly_failed else 1.0,
                "regressed": len(newly_failed) > 4,
                "newly_failed_ids": newly_failed,
            }
        suites[suite] = {"metrics": metrics}
    return {
        "baseline": {"file": baseline_file, "timestamp": baseline["timestamp"]},
        "alpha": 0.05,
        "suites": suites,
    }


def test_with_a_baseline_newly_failed_cases_come_first_and_the_baseline_is_marked(
    project: Project, tmp_path: Path, open_page: Any
) -> None:
    replies = {f"req_{i:02d}": "Paris." for i in range(12)}
    replies["req_00"] = "Lyon."  # failing in both runs
    project.events(documented_event(i, ["geo"], content=r) for i, r in replies.items())
    project.metrics(METRICS)
    project.run("--trainloop")
    baseline = project.results()
    baseline_file = project.summary()["results_file"]
    for request_id in ("req_05", "req_09"):
        replies[request_id] = "Marseille."
    project.events(documented_event(i, ["geo"], content=r) for i, r in replies.items())
    project.run("--trainloop")
    results = project.results()
    results["comparison"] = compare(baseline, results, baseline_file)
    opened = open_page(render_to(project, results, tmp_path / "report.html"))
    page = opened.page

    summaries = page.locator("#case-list > details.case > summary")
    order = [summaries.nth(i).inner_text() for i in range(summaries.count())]
    assert ["req_05" in order[0], "req_09" in order[1], "req_00" in order[2]] == [True] * 3
    assert all("newly failed" in line for line in order[:2]) and "newly failed" not in order[2]
    row = page.eval_on_selector(
        "#metrics tbody tr", "r => Array.from(r.cells, c => c.innerText.trim())"
    )
    assert row[8:] == ["0.917", "-0.167", "\u22122 +0", "0.031"]
    chart = page.locator("svg.chart")
    assert chart.locator("text", has_text="baseline").count() == 1
    assert chart.locator("text", has_text="this run").count() == 1
    assert page.locator("#run", has_text=baseline_file).is_visible()


def test_the_history_leaves_out_partial_runs_and_keeps_each_suites_score(
    project: Project,
) -> None:
    project.events(
        [documented_event("req_1", ["geo"], content="Paris."), documented_event("req_2", ["geo"])]
    )
    project.metrics(METRICS)
    project.run("--trainloop")
    first = project.results()
    project.events([documented_event("req_1", ["geo"], content="Paris.")])
    project.run("--trainloop")
    second = project.results()
    partial = dict(second, complete=False, timestamp="2099-01-01T00:00:00.000Z")
    (project.data / "results" / "evaluation_results_20990101T000000Z.json").write_bytes(
        orjson.dumps(partial)
    )

    history = gather_history(project.data / "results")
    assert [(p.timestamp, p.overall, p.suites) for p in history] == [
        (first["timestamp"], 0.5, {"geography": 0.5}),
        (second["timestamp"], 1.0, {"geography": 1.0}),
    ]
    assert len(gather_history(project.data / "results", limit=1)) == 1


def test_a_report_is_written_from_a_results_file_with_its_events(
    project: Project, tmp_path: Path, open_page: Any
) -> None:
    run_support_project(project)
    results_file = project.data / "results" / project.summary()["results_file"]
    out = write_html_report(results_file, tmp_path / "out" / "report.html")
    assert out == tmp_path / "out" / "report.html"
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temporary file left
    page = open_page(out).page
    assert page.locator("details.case", has_text="req_geo2").count() == 1
    assert "Capital of France?" in (page.text_content("#cases") or "")

    # Without its data folder the page still shows what the results kept.
    shutil.rmtree(project.data / "events")
    out = write_html_report(results_file, tmp_path / "again.html")
    page = open_page(out).page
    text = page.text_content("#cases") or ""
    assert "the events were not available" in text and "Lyon." in text
    assert "breakdown needs the events" in page.inner_text("#breakdown")


def test_the_page_of_the_example_project_shows_its_judge_votes(
    tmp_path: Path, open_page: Any
) -> None:
    root = Path(__file__).resolve().parents[1] / "example_project"
    results_file = tmp_path / "run.json"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(OPENAI_BASE_URL="http://127.0.0.1:9/v1", ANTHROPIC_BASE_URL="http://127.0.0.1:9")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--trainloop",
            "-q",
            "-p",
            "no:randomly",
            f"--trainloop-results={results_file}",
        ],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    page = open_page(write_html_report(results_file, tmp_path / "report.html")).page
    case = page.locator("details.case", has_text="judge_finds_the_reply_empathetic").first
    case.locator("summary").click()
    votes = case.locator("table").inner_text()
    assert "openai/gpt-4o-mini" in votes and "anthropic/claude-3-5-haiku-20241022" in votes
    assert re.search(r"Acme Cloud's support assistant", case.inner_text())


def test_the_breakdown_counts_each_case_under_its_events_model_provider_and_tags(
    project: Project, tmp_path: Path, open_page: Any
) -> None:
    from_input = documented_event("req_in", ["geo", "eu"], content="Paris.")
    from_input["input"]["model"] = "gpt-4.1"  # no model in metadata: the input's counts
    del from_input["metadata"]["model"]
    no_provider = documented_event("req_np", ["geo"], content="Lyon.")
    del no_provider["metadata"]["provider"]
    project.events(
        [
            documented_event("req_a", ["geo"], content="Paris."),
            from_input,
            no_provider,
            flat_event("geo", "Paris, of course."),
            flat_event("geo", "Rome."),
        ]
    )
    project.metrics(METRICS)
    project.run("--trainloop")
    results = project.results()
    events = {event.id: event for event in read_events(project.data).events}
    page = open_page(render_to(project, results, tmp_path / "report.html")).page

    def table(n: int) -> dict[str, str]:
        rows = page.eval_on_selector_all(
            f"#breakdown table:nth-of-type({n}) tbody tr",
            "rows => rows.map(r => Array.from(r.cells, c => c.innerText.trim()))",
        )
        return {row[0]: row[1] for row in rows}

    details = results["suites"]["geography"]["metrics"]["names_the_capital"]["details"]
    for n, fact in ((1, "model"), (2, "provider")):
        expected: dict[str, list[int]] = {}
        for detail in details:
            value = getattr(events[detail["event_id"]], fact) or "unknown"
            counts = expected.setdefault(value, [0, 0])
            counts[0] += detail["verdict"] == "passed"
            counts[1] += 1
        assert table(n) == {k: f"{p}/{t}" for k, (p, t) in expected.items()}
    assert table(1) == {
        "claude-3-5-sonnet-20241022": "1/2",
        "gpt-4.1": "1/1",
        "gpt-4o-mini": "1/2",
    }
    assert table(2) == {"anthropic": "1/2", "openai": "2/2", "unknown": "0/1"}
    assert table(3) == {"eu": "1/1", "geo": "3/5"}

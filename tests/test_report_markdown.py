"""The Markdown summary, parsed as GitHub parses it (CommonMark with GFM tables): one row per
case whatever its reply holds, and the scores and gates of the results file."""

from __future__ import annotations

import html
import re
from typing import Any

from markdown_it import MarkdownIt

from pytest_trainloop.report.markdown import render_markdown
from tests.conftest import Project, documented_event

HOSTILE_REPLY = (
    "a | b `code` ``` fence\nsecond line <script>alert(1)</script> <b>bold</b> &amp; "
    "[link](javascript:alert(1)) ![img](x) *em* _u_ ~~s~~ $x$ back\\slash\r\nthird | line"
)

METRICS = """
import pytest

@pytest.mark.trainloop_suite("support", tags=["support"], min_score=0.5)
def replies_plainly(event):
    return "<" not in event.response, f"markup in: {event.response}"

@pytest.mark.trainloop_suite("support", tags=["support"], min_score=0.9)
def stays_short(event):
    return len(event.response) < 60
"""


def parse(markdown: str) -> str:
    # html=True, as GitHub lets through the tags it then sanitizes: our <br> must stay a break.
    rendered: str = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    return rendered


def tables(rendered: str) -> list[list[list[str]]]:
    """Each table's body rows, each cell as the text a reader sees (a <br> read as a newline)."""
    found = []
    for table in re.findall(r"<table>(.*?)</table>", rendered, re.S):
        body = table.split("<tbody>", 1)[1] if "<tbody>" in table else ""
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            text = (re.sub(r"<[^>]+>", "", cell.replace("<br>", "\n")) for cell in cells)
            rows.append([html.unescape(cell) for cell in text])
        found.append(rows)
    return found


def run(project: Project) -> dict[str, Any]:
    project.events(
        [
            documented_event("req_ok", ["support"], content="Happy to help."),
            documented_event("req_bad", ["support"], content=HOSTILE_REPLY),
        ]
    )
    project.metrics(METRICS)
    project.run("--trainloop")
    return project.results()


def test_a_hostile_reply_renders_as_one_row_of_literal_text(project: Project) -> None:
    results = run(project)
    rendered = parse(render_markdown(results))

    cases = tables(rendered)[1]
    assert len(cases) == 2  # req_bad failed both metrics: one row each
    for row in cases:
        assert len(row) == 5
        event_id, verdict, reply = row[1], row[2], row[4]
        assert (event_id, verdict) == ("req_bad", "failed")
        assert reply == HOSTILE_REPLY.replace("\r\n", "\n")
    assert cases[0][3] == f"markup in: {HOSTILE_REPLY}".replace("\r\n", "\n")
    # Nothing of the reply became markup.
    for tag in ("<script", "<b>", "<a ", "<img", "<em>", "<code>", "<s>", "<pre"):
        assert tag not in rendered


def test_the_summary_table_and_gates_are_those_of_the_results(project: Project) -> None:
    results = run(project)
    rendered = parse(render_markdown(results))

    summary = tables(rendered)[0]
    expected = [
        [suite, metric, f"{m['passed']}/{m['total']}", f"{m['score']:.3f}"]
        for suite, s in results["suites"].items()
        for metric, m in s["metrics"].items()
    ]
    assert [row[:4] for row in summary] == expected
    assert [row[5] for row in summary] == ["≥ 0.500 held", "≥ 0.900 not held"]
    assert "FAILED" in rendered.split("\n", 1)[0]
    assert "min_score of support/stays_short: score 0.500, bound 0.900, <strong>not held" in (
        rendered
    )


def test_with_a_baseline_only_newly_failed_cases_are_listed(project: Project) -> None:
    results = run(project)
    details = results["suites"]["support"]["metrics"]["replies_plainly"]["details"]
    # What the comparison writes when req_bad passed in the baseline and fails now.
    results["comparison"] = {
        "baseline": {"file": "baseline.json", "timestamp": "2024-01-01T00:00:00.000Z"},
        "suites": {
            "support": {
                "metrics": {
                    "replies_plainly": {
                        "baseline_score": 1.0,
                        "run_score": 0.5,
                        "change": -0.5,
                        "newly_failed": 1,
                        "newly_passed": 0,
                        "p_value": 1.0,
                        "regressed": False,
                        "newly_failed_ids": [
                            d["event_id"] for d in details if d["verdict"] != "passed"
                        ],
                    }
                }
            }
        },
    }
    markdown = render_markdown(results)
    rendered = parse(markdown)

    summary, cases = tables(rendered)
    assert summary[0][6:] == ["1.000", "-0.500", "\u22121 +0", "1.000"]
    assert summary[1][6:] == ["\u2013"] * 4
    assert "### Newly failed cases (1)" in markdown
    assert [row[:2] for row in cases] == [["support/replies_plainly", "req_bad"]]

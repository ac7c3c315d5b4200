"""Benchmark: the HTML report (and the Markdown summary) of a 100k-event run.

    python bench/report.py [--events 100000] [--repeat 3]

One real batch-mode run of two metrics over N generated events (one fails about 15% of its
cases, the other none) writes the results file once; then, in this process, with the events
already read (as at the end of a run):

- `render_html(results, events=..., history=...)`: the target is at most 1.5 s at 100k, and a
  file under 20 MB;
- `render_markdown(results)`;
- `write_html_report(results file, out)`, what `pytest-trainloop report` does: read the results
  and the events, render, write (reading the events is most of it);
- `write_reports(...)`, what `--trainloop-html` and `--trainloop-markdown` add to the end of a
  run: the page from the run's events already read, the history, the summary, both written.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402
from data import generate  # noqa: E402

from pytest_trainloop.events import read_events  # noqa: E402
from pytest_trainloop.report.files import write_reports  # noqa: E402
from pytest_trainloop.report.history import gather_history  # noqa: E402
from pytest_trainloop.report.html import render_html, write_html_report  # noqa: E402
from pytest_trainloop.report.markdown import render_markdown  # noqa: E402
from pytest_trainloop.settings import Settings  # noqa: E402
from pytest_trainloop.suites import Selection  # noqa: E402

METRICS = """
import zlib
import pytest

@pytest.mark.trainloop_suite("bench", tags=["bench"], min_score=0.01)
def mostly_right(event):
    # About 15% of the events fail, the same ones in every run.
    ok = zlib.crc32(event.id.encode()) % 100 >= 15
    return ok, "the reply misses the point"

@pytest.mark.trainloop_suite("bench", tags=["bench"], min_score=0.01)
def prompt_has_words(event):
    return len(event.prompt) > 0
"""


def timed(repeat: int, work: object) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    if not data.GENERATOR.exists():  # a worktree beside the checkout: shared/ is further up
        found = [p / "shared/tools/gen_events.py" for p in HERE.parents]
        data.GENERATOR = next((p for p in found if p.exists()), data.GENERATOR)
    project = HERE / "bench-data" / f"report-{args.events}"
    project.mkdir(parents=True, exist_ok=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_metrics.py").write_text(METRICS)
    generate(project / "data", args.events, "--force-tag", "bench", "--error-rate", "0")
    results_file = project / "run.json"
    if not results_file.exists():
        subprocess.run(
            [sys.executable, "-m", "pytest", "--trainloop", "--trainloop-batch", "-q",
             "-p", "no:randomly", f"--trainloop-results={results_file}"],
            cwd=project, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    results = orjson.loads(results_file.read_bytes())
    failing = results["summary"]["failed"] + results["summary"]["errors"]
    print(
        f"{args.events} events, {results['summary']['total']} cases, {failing} failing; "
        f"results file {results_file.stat().st_size / 1e6:.1f} MB"
    )

    read_time, log = timed(1, lambda: read_events(project / "data"))
    events = {event.id: event for event in log.events}  # type: ignore[attr-defined]
    history = gather_history(project / "data" / "results")
    html_time, page = timed(
        args.repeat, lambda: render_html(results, events=events, history=history)
    )
    size = len(str(page).encode())
    md_time, _ = timed(args.repeat, lambda: render_markdown(results))
    out = project / "report.html"
    write_time, _ = timed(args.repeat, lambda: write_html_report(results_file, out))
    settings = Settings(
        data_folder=project / "data",
        data_folder_source="bench",
        local_folder=project / "data",
        selection=Selection(),
        fail_under=None,
        results_path=results_file,
        strict=False,
        batch_size=None,
        batch_concurrency=1,
        judge_options={},
        config_dir=project,
        html_path=project / "run-report.html",
        markdown_path=project / "run-summary.md",
        step_summary=False,
    )
    run_time, _ = timed(
        args.repeat,
        lambda: write_reports(results, results_file, settings, log),  # type: ignore[arg-type]
    )
    print(f"  read_events (not in the target)  {read_time:6.2f} s")
    print(
        f"  render_html                      {html_time:6.2f} s  (target <= 1.5 s)  "
        f"{size / 1e6:.2f} MB (target < 20 MB)"
    )
    print(f"  render_markdown                  {md_time:6.3f} s")
    print(f"  write_html_report, end to end    {write_time:6.2f} s")
    print(f"  end of a run: html + markdown    {run_time:6.2f} s  (write_reports, events read)")


if __name__ == "__main__":
    main()

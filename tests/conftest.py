"""Helpers shared by the tests: writing event files the way applications record them."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

# The browser's fixtures, for every module that opens a report page.
from tests.browser import browser, open_page  # noqa: F401


def documented_event(
    request_id: str | None = "req_1",
    tags: Iterable[str] = ("greeting",),
    content: str | None = "Hello! How can I help you today?",
    prompt: str = "Hello!",
    timestamp: str = "2024-01-15T14:30:25.123Z",
    **metadata: Any,
) -> dict[str, Any]:
    """An event in the documented shape; `content=None` records a failed call."""
    meta: dict[str, Any] = {"provider": "openai", "model": "gpt-4o-mini"}
    # A string is kept as it is, so tests can record the mistake of a string for a list.
    meta["tags"] = tags if isinstance(tags, str) else list(tags)
    if request_id is not None:
        meta["request_id"] = request_id
    meta.update(metadata)
    output = None
    if content is not None:
        output = {
            "content": content,
            "role": "assistant",
            "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
            "finish_reason": "stop",
        }
    return {
        "timestamp": timestamp,
        "input": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]},
        "output": output,
        "metadata": meta,
    }


def flat_event(tag: str = "greeting", content: str | None = "Hi there") -> dict[str, Any]:
    """An event in the flat shape the TrainLoop SDKs write."""
    return {
        "tag": tag,
        "durationMs": 812,
        "input": [{"role": "user", "content": "Say hi"}],
        "output": None if content is None else {"content": content},
        "model": "claude-3-5-sonnet-20241022",
        "modelParams": {"temperature": 0.2, "max_tokens": 256},
        "startTimeMs": 1705329025123,
        "endTimeMs": 1705329025935,
        "url": "https://api.anthropic.com/v1/messages",
        "location": {"tag": "app/llm.py", "lineNumber": "42"},
    }


def write_lines(path: Path, lines: Iterable[bytes | dict[str, Any]]) -> Path:
    """Write JSONL: dicts are encoded, bytes are written as they are (for bad lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(
        (line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines
    )
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


@pytest.fixture
def data_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    (folder / "events").mkdir(parents=True)
    return folder


INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
"""


class Project:
    """A throwaway pytest project with recorded events, run through `pytester`."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path = pytester.path
        self.data = pytester.path / "data"
        pytester.makeini(INI)

    def events(self, events: Iterable[bytes | dict[str, Any]], name: str = "day1.jsonl") -> Path:
        return write_lines(self.data / "events" / name, events)

    def metrics(self, source: str, name: str = "test_metrics") -> Path:
        return self.pytester.makepyfile(**{name: source})

    def run(self, *args: str, random_order: bool = False) -> pytest.RunResult:
        """Run pytest inside the project, in file order unless `random_order` (pytest-randomly)."""
        order = () if random_order else ("-p", "no:randomly")
        return self.pytester.runpytest(*order, *args)

    def results(self) -> dict[str, Any]:
        """The latest run's results file (a partial run's too, which the summary does not name)."""
        newest = max(self.results_files(), key=lambda path: path.stat().st_mtime_ns)
        data: dict[str, Any] = orjson.loads(newest.read_bytes())
        return data

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(
            (self.data / "results" / "evaluation_summary.json").read_bytes()
        )
        return data

    def results_files(self) -> list[Path]:
        return sorted((self.data / "results").glob("evaluation_results_*.json"))


@pytest.fixture
def project(pytester: pytest.Pytester) -> Project:
    return Project(pytester)


@pytest.fixture(params=["no-xdist", "-n0", "-n2"])
def dist(request: pytest.FixtureRequest) -> list[str]:
    """The same run three ways: without xdist, with xdist and no workers, with two workers."""
    return {"no-xdist": ["-p", "no:xdist"], "-n0": ["-n0"], "-n2": ["-n2"]}[request.param]


def comparable(results: dict[str, Any]) -> dict[str, Any]:
    """A results JSON without what may differ between equivalent runs (timings, paths, and
    whether they ran in batches)."""
    kept = {k: v for k, v in results.items() if k not in ("timestamp", "trend")}
    if "configuration" in kept:
        kept["configuration"] = {
            k: v for k, v in kept["configuration"].items() if k not in ("batch", "batch_size")
        }
    return kept


@pytest.fixture
def judge_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A loopback OpenAI/Anthropic server, with both SDK variables pointing at it."""
    from tests.judge_server import serving

    for server in serving():
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai-secret")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-secret")
        yield server


# --- projects shared by several test modules ----------------------------------------------------

# A metric returning each kind of verdict, chosen by the event's `metadata.kind`; and a metric
# that always passes, for a second tag.
EVERY_VERDICT_METRICS = """
import pytest
from pytest_trainloop import Verdict

@pytest.mark.trainloop_suite("s", tags=["a"])
def verdicts(event):
    kind = event.metadata["kind"]
    if kind == "none": return None
    if kind == "true": return True
    if kind == "false": return False
    if kind == "one": return 1
    if kind == "zero": return 0
    if kind == "high": return 0.9
    if kind == "low": return 0.2
    if kind == "tuple-no": return (False, "said no")
    if kind == "verdict-no": return Verdict(False, "verdict no")
    if kind == "assert": assert event.response == "x", "not x"
    if kind == "raise": raise ValueError("broken metric")
    if kind == "weird": return "yes"
    if kind == "skip": pytest.skip("not applicable")

@pytest.mark.trainloop_suite("s", tags=["b"])
def test_always(event):
    pass
"""
# kind -> what the case counts as (None: skipped, not counted)
EVERY_VERDICT_KINDS = {
    "none": "passed",
    "true": "passed",
    "false": "failed",
    "one": "passed",
    "zero": "failed",
    "high": "passed",
    "low": "failed",
    "tuple-no": "failed",
    "verdict-no": "failed",
    "assert": "failed",
    "raise": "error",
    "weird": "error",
    "skip": None,
}


def make_every_verdict_events(project: Project) -> list[dict[str, Any]]:
    """Two events of each kind of `EVERY_VERDICT_KINDS` (a third of them tagged b too), and a
    failed call; written into `project` and returned."""
    events = []
    for i, kind in enumerate(sorted(EVERY_VERDICT_KINDS) * 2):
        tags = ["a", "b"] if i % 3 == 0 else ["a"]
        events.append(documented_event(f"r{i}", tags=tags, kind=kind))
    events.append(documented_event("failed-call", tags=["a", "b"], content=None, kind="none"))
    project.events(events)
    return events


# Two metrics of suite "s" for the `mixed` project: a verdict with a reason, and a score.
MIXED_METRICS = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def is_hello(event):
    return event.response == "Hello", "not hello"

@pytest.mark.trainloop_suite("s", tags=["t"])
def scored(event):
    return 0.25 if event.response == "Bye" else 1.0
"""


@pytest.fixture
def mixed(project: Project) -> Project:
    """A project of four events answering Hello, Bye, Hello, Bye, and `MIXED_METRICS`: each
    metric passes the Hellos and fails the Byes."""
    project.events(
        [
            documented_event("req_a1", tags=["t"], content="Hello"),
            documented_event("req_b2", tags=["t"], content="Bye"),
            documented_event("req_c3", tags=["t"], content="Hello"),
            documented_event("req_d4", tags=["t"], content="Bye"),
        ]
    )
    project.metrics(MIXED_METRICS)
    return project


# --- two runs planned to differ in known ways (a baseline, then a run), for the comparison ------

PLANNED_METRICS = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
def says_yes(event):
    return event.response.split()[0] == "yes"

@pytest.mark.trainloop_suite("s", tags=["t"])
def graded(event):
    return float(event.response.split()[1])
"""

# Per event: (says yes, graded score) in the baseline and in the run; None: not recorded there.
# graded passes at its default threshold, 0.5.
Plan = dict[str, tuple[tuple[bool, float] | None, tuple[bool, float] | None]]
PLAN: Plan = {
    **{f"r{i:02d}": ((True, 0.8), (False, 0.3)) for i in range(1, 13)},  # both metrics fail now
    **{f"r{i:02d}": ((False, 0.8), (True, 0.8)) for i in range(13, 15)},  # says_yes passes now
    **{f"r{i:02d}": ((True, 0.8), (True, 0.75)) for i in range(15, 25)},  # graded a bit lower
    **{f"r{i:02d}": ((False, 0.2), (False, 0.6)) for i in range(25, 29)},  # graded passes now
    "r29": ((True, 0.9), None),
    "r30": ((False, 0.1), None),
    "r31": (None, (True, 0.9)),
    "r32": (None, (True, 0.4)),
}


def planned_events(project: Project, side: int) -> None:
    events = []
    for event_id, sides in PLAN.items():
        planned = sides[side]
        if planned is not None:
            says, score = planned
            content = f"{'yes' if says else 'no'} {score}"
            events.append(documented_event(event_id, tags=["t"], content=content))
    project.events(events)


def planned_expected(metric: str) -> dict[str, Any]:
    """The counts of `metric`'s comparison, worked from PLAN's verdicts alone."""
    counts = dict.fromkeys(
        (
            "both_passed",
            "both_failed",
            "newly_failed",
            "newly_passed",
            "only_in_run",
            "only_in_baseline",
        ),
        0,
    )
    failed_ids, passed_ids = [], []
    for event_id, (before, after) in PLAN.items():
        if before is None:
            counts["only_in_run"] += 1
            continue
        if after is None:
            counts["only_in_baseline"] += 1
            continue
        was, now = (v[0] if metric == "says_yes" else v[1] >= 0.5 for v in (before, after))
        if was and now:
            counts["both_passed"] += 1
        elif not was and not now:
            counts["both_failed"] += 1
        elif was:
            counts["newly_failed"] += 1
            failed_ids.append(event_id)
        else:
            counts["newly_passed"] += 1
            passed_ids.append(event_id)
    return {**counts, "newly_failed_ids": failed_ids, "newly_passed_ids": passed_ids}


def planned_comparison_metrics(section: dict[str, Any], baseline: Path) -> dict[str, Any]:
    """A comparison section of PLAN's two runs, checked against the counts worked by hand for
    both metrics; its metrics, for further checks."""
    assert section["baseline"]["file"] == str(baseline)
    assert section["alpha"] == 0.05
    metrics: dict[str, Any] = section["suites"]["s"]["metrics"]
    for metric in ("says_yes", "graded"):
        expected = planned_expected(metric)
        assert {k: metrics[metric][k] for k in expected} == expected, metric
    return metrics

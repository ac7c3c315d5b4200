"""Benchmark: the cost of a --trainloop case against a bare parametrized pytest case.

    python bench/cases.py [--events 1000 10000] [--repeat 3] [--fail-share 0.3]

For each size N, generates N events (../shared/tools/gen_events.py, all tagged `bench`) and
builds two projects over them, each with two trivial metrics (response length, a word in the
prompt) and so 2N cases:

- trainloop: the metrics marked `trainloop_suite`, run as `pytest --trainloop -q`;
- floor: a bare pytest file that loads the same events with orjson and runs the same checks
  on dicts under `@pytest.mark.parametrize`, run as `pytest -q -p no:trainloop`.

Each run is a fresh process; prints median wall time, CPU time and peak RSS of each, their
ratios, and the same for `--co` alone. `--fail-share` makes about that share of all cases fail
(response_is_long_enough fails twice the share); with a `min_score` gate below it the run still
exits 0 (failing cases are tolerated: xfailed).

    python bench/cases.py --no-gate --events 10000 --repeat 3 --fail-share 0.15 0.3 [--batch]

prices failures as a user's first run meets them: no gate, so each failing case is a failing
pytest test, at pytest's default options. The trainloop project alone, all passing against each
share failing, run in turn round after round (one project folder per share, so that each keeps
its own `.pytest_cache`); ratios are medians of the round-by-round ratios. `--batch` runs the
same in batch mode.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
from data import generate

HERE = Path(__file__).resolve().parent

# Run in a child so that RUSAGE_CHILDREN measures exactly one pytest process.
MEASURE = textwrap.dedent("""
    import resource, subprocess, sys, time
    start = time.perf_counter()
    done = subprocess.run(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(done.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
""")

TRAINLOOP_METRICS = """
import pytest

@pytest.mark.trainloop_suite("bench", tags=["bench"]{gate})
def response_is_long_enough(event):
    return len(event.response) >= {min_len}

@pytest.mark.trainloop_suite("bench", tags=["bench"]{gate})
def prompt_has_words(event):
    return len(event.prompt) > 0
"""

FLOOR_TESTS = """
from pathlib import Path

import orjson
import pytest

EVENTS = []
for path in sorted(Path(__file__).parent.joinpath("data", "events").glob("*.jsonl")):
    with path.open("rb") as lines:
        for line in lines:
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if event["output"] is not None and "bench" in event["metadata"]["tags"]:
                EVENTS.append(event)
IDS = [e["metadata"]["request_id"] for e in EVENTS]


@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_response_is_long_enough(event):
    assert len(event["output"]["content"]) >= {min_len}


@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_prompt_has_words(event):
    assert len(event["input"]["messages"][-1]["content"]) > 0
"""


def make_project(project: Path, name: str, source: str, events: Path | int) -> None:
    """A project folder with one test file; its events generated, or linked to `events`."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / name).write_text(source)
    if isinstance(events, int):
        generate(project / "data", events, "--force-tag", "bench", "--error-rate", "0")
    elif not (project / "data").exists():
        (project / "data").mkdir()
        (project / "data" / "events").symlink_to(events)


def make_projects(root: Path, events: int, min_len: int) -> tuple[Path, Path]:
    trainloop, floor = root / "trainloop", root / "floor"
    gated = TRAINLOOP_METRICS.replace("{gate}", ", min_score=0.01")
    for project, name, source in (
        (trainloop, "test_metrics.py", gated),
        (floor, "test_floor.py", FLOOR_TESTS),
    ):
        make_project(project, name, source.replace("{min_len}", str(min_len)), events)
    return trainloop, floor


def min_len_for(share: float) -> int:
    """The least response length that makes about `share` of all cases fail: gen_events'
    responses are 50..4096 characters, log-uniform, and only response_is_long_enough fails."""
    return 0 if share <= 0 else int(50 * (4096 / 50) ** min(1.0, 2 * share))


def measure(cwd: Path, args: list[str]) -> tuple[float, float, float]:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(cwd), sys.executable, "-m", "pytest", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    code, wall, cpu, rss_kib = out.stdout.split()
    if int(code) not in (0, 1):
        raise SystemExit(f"pytest {' '.join(args)} in {cwd} exited {code}")
    return float(wall), float(cpu), int(rss_kib) / 1024


def report(
    label: str,
    ours: list[tuple[float, float, float]],
    floor: list[tuple[float, float, float]],
    cases: int,
) -> None:
    med = [statistics.median(v) for v in zip(*ours, strict=True)]
    base = [statistics.median(v) for v in zip(*floor, strict=True)]
    print(
        f"  {label:10} trainloop wall {med[0]:7.2f} s cpu {med[1]:7.2f} s rss {med[2]:6.0f} MiB"
        f" | floor wall {base[0]:7.2f} s cpu {base[1]:7.2f} s rss {base[2]:6.0f} MiB"
        f" | ratio wall {med[0] / base[0]:.2f} cpu {med[1] / base[1]:.2f}"
        f" rss {med[2] / base[2]:.2f} | {1000 * med[0] / cases:.3f} vs "
        f"{1000 * base[0] / cases:.3f} ms/case"
    )


def failing(events: Path, min_len: int) -> int:
    """How many of the generated events have a response shorter than `min_len`."""
    count = 0
    for path in sorted(events.glob("*.jsonl")):
        with path.open("rb") as lines:
            for line in lines:
                event = orjson.loads(line)
                count += len(event["output"]["content"]) < min_len
    return count


def no_gate(n: int, shares: list[float], repeat: int, batch: bool, extra: list[str]) -> None:
    """The trainloop project without a gate: all passing against each share failing."""
    root = HERE / "bench-data" / f"cases-{n}"
    events = root / "no-gate-0" / "data" / "events"  # the all-passing project's, linked
    shares = [0.0, *(s for s in shares if s > 0)]
    projects = {}
    for share in shares:
        min_len = min_len_for(share)
        source = TRAINLOOP_METRICS.replace("{gate}", "").replace("{min_len}", str(min_len))
        projects[share] = root / f"no-gate-{share:g}"
        make_project(projects[share], "test_metrics.py", source, events if share else n)
        print(
            f"{n} events, {2 * n} cases, no gate, share {share:g}: min response length "
            f"{min_len}, {failing(events, min_len)} failing cases"
        )
    args = ["--trainloop", "-p", "no:randomly", *(["--trainloop-batch"] if batch else []), *extra]
    runs: dict[float, list[tuple[float, float, float]]] = {share: [] for share in shares}
    for _ in range(repeat):  # in turn, so that the machine's drift hits every share alike
        for share in shares:
            runs[share].append(measure(projects[share], args))
    passing = runs[0.0]
    for share in shares:
        walls = [r[0] for r in runs[share]]
        line = (
            f"  share {share:4g}: wall {statistics.median(walls):7.2f} s "
            f"({min(walls):.2f}-{max(walls):.2f}) cpu "
            f"{statistics.median(r[1] for r in runs[share]):7.2f} s "
            f"rss {statistics.median(r[2] for r in runs[share]):6.0f} MiB"
        )
        if share:
            ratios = [r[0] / p[0] for r, p in zip(runs[share], passing, strict=True)]
            cpu = [r[1] / p[1] for r, p in zip(runs[share], passing, strict=True)]
            line += (
                f" | against all passing: wall {statistics.median(ratios):.3f} "
                f"({min(ratios):.3f}-{max(ratios):.3f}) cpu {statistics.median(cpu):.3f} "
                f"({min(cpu):.3f}-{max(cpu):.3f})"
            )
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--fail-share",
        type=float,
        nargs="+",
        default=[0.0],
        help="share of all cases that fail (about); with --no-gate, several",
    )
    parser.add_argument(
        "--no-gate",
        action="store_true",
        help="no min_score: trainloop all passing against each --fail-share failing",
    )
    parser.add_argument("--batch", action="store_true", help="with --no-gate: batch mode")
    parser.add_argument(
        "--pytest-args",
        default="",
        help="with --no-gate: more pytest options, one string ('-p no:trainloop-failures')",
    )
    args = parser.parse_args()
    if args.no_gate:
        for n in args.events:
            no_gate(n, args.fail_share, args.repeat, args.batch, args.pytest_args.split())
        return
    min_len = min_len_for(args.fail_share[0])
    for n in args.events:
        root = HERE / "bench-data" / f"cases-{n}"
        trainloop, floor = make_projects(root, n, min_len)
        print(f"{n} events, {2 * n} cases, min response length {min_len}:")
        for label, extra in (
            ("run", ["-q", "-p", "no:randomly"]),
            ("--co", ["-q", "--co", "-p", "no:randomly"]),
        ):
            ours, base = [], []
            for _ in range(args.repeat):
                ours.append(measure(trainloop, ["--trainloop", *extra]))
                base.append(measure(floor, ["-p", "no:trainloop", *extra]))
            report(label, ours, base, 2 * n)
        time.sleep(0)


if __name__ == "__main__":
    main()

"""Benchmark: the cost of a --trainloop case against a bare parametrized pytest case.

    python bench/cases.py [--events 1000 10000] [--repeat 3] [--fail-share 0.3]

For each size N, generates N events (../shared/tools/gen_events.py, all tagged `bench`) and
builds two projects over them, each with two trivial metrics (response length, a word in the
prompt) and so 2N cases:

- trainloop: the metrics marked `trainloop_suite`, run as `pytest --trainloop -q`;
- floor: a bare pytest file that loads the same events with orjson and runs the same checks
  on dicts under `@pytest.mark.parametrize`, run as `pytest -q -p no:trainloop`.

Each run is a fresh process; prints median wall time, CPU time and peak RSS of each, their
ratios, and the same for `--co` alone. `--fail-share` makes that share of cases fail (to price
failure reports); with a `min_score` gate below it the run still exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

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

@pytest.mark.trainloop_suite("bench", tags=["bench"], min_score=0.01)
def response_is_long_enough(event):
    return len(event.response) >= {min_len}

@pytest.mark.trainloop_suite("bench", tags=["bench"], min_score=0.01)
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


def make_projects(root: Path, events: int, min_len: int) -> tuple[Path, Path]:
    trainloop, floor = root / "trainloop", root / "floor"
    for project, name, source in (
        (trainloop, "test_metrics.py", TRAINLOOP_METRICS),
        (floor, "test_floor.py", FLOOR_TESTS),
    ):
        project.mkdir(parents=True, exist_ok=True)
        (project / "pytest.ini").write_text("[pytest]\n")
        (project / name).write_text(source.replace("{min_len}", str(min_len)))
        generate(project / "data", events, "--force-tag", "bench", "--error-rate", "0")
    return trainloop, floor


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--fail-share",
        type=float,
        default=0.0,
        help="share of response_is_long_enough cases that fail (about)",
    )
    args = parser.parse_args()
    # gen_events' responses are 50..4096 characters, log-uniform: pick the length that fails
    # about the asked share.
    min_len = 0 if args.fail_share <= 0 else int(50 * (4096 / 50) ** args.fail_share)
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

"""Benchmark: batch mode on N events against a bare orjson script doing the same checks.

    python bench/batch.py [--events 100000] [--repeat 3]

Two trivial metrics (response length, prompt not empty) over N generated events, all tagged
`bench`, each run a fresh process with start-up included:

- `pytest --trainloop --trainloop-batch -q` (reads, checks and ids every event, runs both
  metrics, writes the results JSON);
- floor: a plain Python script that parses every line with orjson, keeps the events with an
  output, and runs the same two checks on the dicts.

Also per-case mode for comparison at the same N when `--per-case` is given (slow at 100k),
with `--phases` where batch mode's time goes (bench/phases.py: when each phase ended, from
pytest's start-up to the end of its run), and with `--bound` the least any run inside pytest
that checks every line could take: pytest with no test at all, plus decoding every line through
the reader's gate alone (msgspec, no ids, no events), plus the floor script itself.

With `--baseline`, the cost of comparing with a baseline instead (issue 12: at most 1.2x): a
first batch run writes a baseline file, then batch runs without and with
`--trainloop-baseline FILE --trainloop-fail-on-regression` alternate, round after round; the
ratio is the median of the rounds' ratios, with their spread. (The runs compare the same events:
every case pairs, which is the most work a comparison does.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import make_projects  # noqa: E402  (same projects as bench/cases.py)

FLOOR_SCRIPT = """
import sys
from pathlib import Path
import orjson

passed = total = 0
for path in sorted(Path(sys.argv[1]).glob("*.jsonl")):
    with path.open("rb") as lines:
        for line in lines:
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if event["output"] is None or "bench" not in event["metadata"]["tags"]:
                continue
            total += 2
            passed += len(event["output"]["content"]) >= 0
            passed += len(event["input"]["messages"][-1]["content"]) > 0
print(passed, total)
"""

# Decoding each line through the reader's gate, and nothing else: the least checking can cost.
# It times its own loop: importing the gate imports pytest, counted already in pytest's run.
GATE_SCRIPT = """
import sys
import time
from pathlib import Path
from pytest_trainloop.gate import _GATE

start = time.perf_counter()
for path in sorted(Path(sys.argv[1]).glob("*.jsonl")):
    with path.open("rb") as lines:
        for line in lines:
            try:
                _GATE.decode(line)
            except Exception:
                pass
print(time.perf_counter() - start)
"""


def timed(args: list[str], cwd: Path, check: bool = True) -> float:
    # pytest's cache remembers every node id ever run there (200k after a per-case run of
    # bench/cases.py), and pytest reads and rewrites that list at each run: a cost of the
    # leftovers, not of batch mode.
    shutil.rmtree(cwd / ".pytest_cache", ignore_errors=True)
    shutil.rmtree(cwd / "data" / "results", ignore_errors=True)  # 100 MB a run at 100k
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise SystemExit(f"{args} failed (exit {done.returncode})")
    return time.perf_counter() - start


def compare_with_baseline(
    batch: list[str], cwd: Path, baseline: Path, args: argparse.Namespace
) -> None:
    """Batch runs without and with a baseline, alternated (see the module's doc)."""
    timed([*batch, f"--trainloop-results={baseline}"], cwd)
    with_baseline = [
        *batch,
        f"--trainloop-baseline={baseline}",
        "--trainloop-fail-on-regression",
    ]
    plain: list[float] = []
    compared: list[float] = []
    for n in range(args.repeat):
        # Which goes first alternates too: a slow minute on the shared machine hits both.
        pair = [(plain, batch), (compared, with_baseline)]
        for times, command in pair if n % 2 == 0 else pair[::-1]:
            times.append(timed(command, cwd))
    ratios = sorted(c / p for p, c in zip(plain, compared, strict=True))
    for name, times in (("batch", plain), ("batch + baseline", compared)):
        print(
            f"{args.events} events, {name:16}: median {statistics.median(times):6.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f})"
        )
    print(
        f"with / without a baseline: median {statistics.median(ratios):.3f} "
        f"(rounds: {', '.join(f'{r:.3f}' for r in ratios)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-case", action="store_true")
    parser.add_argument("--phases", action="store_true")
    parser.add_argument("--bound", action="store_true")
    parser.add_argument("--baseline", action="store_true")
    args = parser.parse_args()
    root = HERE / "bench-data" / f"cases-{args.events}"
    trainloop, floor = make_projects(root, args.events, 0)
    (floor / "floor_script.py").write_text(FLOOR_SCRIPT)
    runs = {
        "batch": (
            [
                sys.executable,
                "-m",
                "pytest",
                "--trainloop",
                "--trainloop-batch",
                "-q",
                "-p",
                "no:randomly",
            ],
            trainloop,
        ),
        "orjson floor": ([sys.executable, "floor_script.py", "data/events"], floor),
    }
    if args.per_case:
        runs["per case"] = (
            [sys.executable, "-m", "pytest", "--trainloop", "-q", "-p", "no:randomly"],
            trainloop,
        )
    if args.bound:
        empty = root / "empty"
        empty.mkdir(exist_ok=True)
        (empty / "pytest.ini").write_text("[pytest]\n")
        (floor / "gate_script.py").write_text(GATE_SCRIPT)
        runs["pytest, no test"] = (
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"],
            empty,
        )
    if args.baseline:
        compare_with_baseline(runs["batch"][0], trainloop, root / "baseline.json", args)
        return
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, (command, cwd) in runs.items():
            # pytest exits 5 when it collects no test: that run is meant to.
            times[name].append(timed(command, cwd, check=name != "pytest, no test"))
        if args.bound:
            gate = [sys.executable, "gate_script.py", "data/events"]
            out = subprocess.run(gate, cwd=floor, capture_output=True, text=True, check=True)
            times.setdefault("gate loop only", []).append(float(out.stdout))
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"{args.events} events, {name:15}: median {median:6.2f} s")
    floor_median = medians["orjson floor"]
    print(f"batch / orjson floor: {medians['batch'] / floor_median:.2f}")
    if args.bound:
        bound = medians["pytest, no test"] + medians["gate loop only"] + floor_median
        print(
            f"least a checking run inside pytest could take: {bound:.2f} s, "
            f"{bound / floor_median:.2f} x the floor"
        )
    if args.phases:
        command, cwd = runs["batch"]
        # Only the plugin on the path: bench/xdist.py would shadow pytest-xdist.
        plugin_dir = Path(tempfile.mkdtemp())
        shutil.copy(HERE / "phases.py", plugin_dir)
        for _ in range(args.repeat):
            shutil.rmtree(cwd / ".pytest_cache", ignore_errors=True)
            start = time.perf_counter()
            done = subprocess.run(
                [*command, "-p", "phases"],
                cwd=cwd,
                env={**os.environ, "PYTHONPATH": str(plugin_dir)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                check=True,
            )
            wall = time.perf_counter() - start
            [line] = [x for x in done.stderr.splitlines() if x.startswith("phases: ")]
            print(f"{line} (process wall {wall:.2f} s)")


if __name__ == "__main__":
    main()

"""Benchmark: batch mode on N events against a bare orjson script doing the same checks.

    python bench/batch.py [--events 100000] [--repeat 3] [--bound] [--phases]

Two trivial metrics (response length, prompt not empty) over N generated events, all tagged
`bench`, each run a fresh process with start-up included:

- `pytest --trainloop --trainloop-batch -q` (reads, checks and ids every event, runs both
  metrics, writes the results JSON);
- floor: a plain Python script that parses every line with orjson, keeps the events with an
  output, and runs the same two checks on the dicts.

Every run uses the interpreter of a venv with pytest and this project alone (bench/venvs.py:
what `pip install pytest-trainloop` makes), or `--python`'s, with bytecode files written (as by
default; `--dont-write-bytecode` sets PYTHONDONTWRITEBYTECODE=1 for every run). The two
alternate, run after run (A B A B); medians of wall time, CPU time (user + system) and
peak RSS of each, the ratios against the floor, and the size of the results file, each against
issue 15's targets (3x the floor, 1 GiB of RSS and 150 MB of results at 1M events).

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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import make_projects  # noqa: E402  (same projects as bench/cases.py)
from venvs import clean_env, user_venv  # noqa: E402

FLOOR_SCRIPT = """
import sys
from pathlib import Path
from typing import NamedTuple
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
from typing import NamedTuple
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


# Run in a child so that RUSAGE_CHILDREN measures exactly one process (as bench/cases.py).
MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(done.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""

TARGET_RATIO = 3.0  # issue 15: batch mode within 3x the floor, start-up included
TARGET_RSS_MIB = 1024.0  # ... under 1 GiB of peak RSS at 1M events
TARGET_FILE_MB_PER_MILLION = 150.0  # ... and a results file under 150 MB at 1M events


class Measured(NamedTuple):
    wall: float
    cpu: float
    rss_mib: float
    file_mb: float  # the results file written, 0 when none


def measured(args: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> Measured:
    # pytest's cache remembers every node id ever run there (200k after a per-case run of
    # bench/cases.py), and pytest reads and rewrites that list at each run: a cost of the
    # leftovers, not of batch mode.
    shutil.rmtree(cwd / ".pytest_cache", ignore_errors=True)
    results = cwd / "data" / "results"
    shutil.rmtree(results, ignore_errors=True)  # 14 MB a run at 100k
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(cwd), *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    code, wall, cpu, rss_kib = out.stdout.split()
    if check and int(code) != 0:
        raise SystemExit(f"{args} failed (exit {code})")
    files = list(results.glob("evaluation_results_*.json"))
    size = files[0].stat().st_size / 1e6 if files else 0.0
    return Measured(float(wall), float(cpu), int(rss_kib) / 1024, size)


def compare_with_baseline(
    batch: list[str], cwd: Path, baseline: Path, args: argparse.Namespace, env: dict[str, str]
) -> None:
    """Batch runs without and with a baseline, alternated (see the module's doc)."""
    measured([*batch, f"--trainloop-results={baseline}"], cwd, env)
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
            times.append(measured(command, cwd, env).wall)
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
    parser.add_argument(
        "--python",
        type=Path,
        help="the interpreter of every run (default: a venv with pytest and this project alone, "
        'as `pip install pytest-trainloop` makes; `--python "$(which python)"` for this one)',
    )
    parser.add_argument("--dont-write-bytecode", action="store_true")
    args = parser.parse_args()
    python = str(args.python or user_venv())
    env = clean_env(args.dont_write_bytecode)
    print(f"every run by {python}")
    root = HERE / "bench-data" / f"cases-{args.events}"
    trainloop, floor = make_projects(root, args.events, 0)
    (floor / "floor_script.py").write_text(FLOOR_SCRIPT)
    runs = {
        "batch": (
            [
                python,
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
        "orjson floor": ([python, "floor_script.py", "data/events"], floor),
    }
    if args.per_case:
        runs["per case"] = (
            [python, "-m", "pytest", "--trainloop", "-q", "-p", "no:randomly"],
            trainloop,
        )
    if args.bound:
        empty = root / "empty"
        empty.mkdir(exist_ok=True)
        (empty / "pytest.ini").write_text("[pytest]\n")
        (floor / "gate_script.py").write_text(GATE_SCRIPT)
        runs["pytest, no test"] = (
            [python, "-m", "pytest", "-q", "-p", "no:randomly"],
            empty,
        )
    if args.baseline:
        compare_with_baseline(runs["batch"][0], trainloop, root / "baseline.json", args, env)
        return
    runs_of: dict[str, list[Measured]] = {name: [] for name in runs}
    gate_times: list[float] = []
    for _ in range(args.repeat):
        for name, (command, cwd) in runs.items():
            # pytest exits 5 when it collects no test: that run is meant to.
            runs_of[name].append(measured(command, cwd, env, check=name != "pytest, no test"))
        if args.bound:
            gate = [python, "gate_script.py", "data/events"]
            out = subprocess.run(
                gate, cwd=floor, capture_output=True, text=True, check=True, env=env
            )
            gate_times.append(float(out.stdout))
    medians = {
        name: Measured(*(statistics.median(values) for values in zip(*m, strict=True)))
        for name, m in runs_of.items()
    }
    for name, m in medians.items():
        walls = " ".join(f"{r.wall:.2f}" for r in runs_of[name])
        print(
            f"{args.events} events, {name:15}: median wall {m.wall:6.2f} s, cpu {m.cpu:6.2f} s, "
            f"peak rss {m.rss_mib:6.0f} MiB (walls: {walls})"
        )
    batch, floor_run = medians["batch"], medians["orjson floor"]
    file_target = TARGET_FILE_MB_PER_MILLION * args.events / 1e6
    print(
        f"batch / orjson floor: wall {batch.wall / floor_run.wall:.2f}, "
        f"cpu {batch.cpu / floor_run.cpu:.2f} (target {TARGET_RATIO:.0f}x)\n"
        f"batch peak rss {batch.rss_mib:.0f} MiB (target at 1M events: {TARGET_RSS_MIB:.0f})\n"
        f"results file {batch.file_mb:.1f} MB (target {file_target:.1f} MB: 150 MB at 1M events)"
    )
    if args.bound:
        gate_median = statistics.median(gate_times)
        print(f"{args.events} events, gate loop only : median {gate_median:6.2f} s")
        bound = medians["pytest, no test"].wall + gate_median + floor_run.wall
        print(
            f"least a checking run inside pytest could take: {bound:.2f} s, "
            f"{bound / floor_run.wall:.2f} x the floor; the {TARGET_RATIO:.0f}x target leaves "
            f"{TARGET_RATIO * floor_run.wall - bound:.2f} s above it for everything else (ids, "
            f"events, the metrics' own parse and calls, outcomes, the results file); batch mode "
            f"took {batch.wall - bound:.2f} s"
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
                env={**env, "PYTHONPATH": str(plugin_dir)},
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

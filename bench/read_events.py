"""Benchmark: the event reader against bare orjson loops over the same lines.

    python bench/read_events.py [--events 100000] [--repeat 5] [--data DIR]

Generates DIR with ../shared/tools/gen_events.py when it holds no events yet, then times, in
one process and interleaved so that machine noise hits all alike:

- `read_events(DIR)`: parse, check, normalize, give ids, keep every event;
- bare loop, kept: `orjson.loads` each line and append the dict to a list (the spec's own
  example reader, with orjson), with the collector paused as the reader pauses it;
- bare loop, discarded: `orjson.loads` each line and drop it (the parsing floor).

Prints the median of each and the throughput ratios (reader / bare: higher is better).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from data import generate

from pytest_trainloop import read_events


def bare_loop(folder: Path, keep: bool) -> int:
    kept: list[object] = []
    count = 0
    gc.disable()
    try:
        for path in sorted((folder / "events").rglob("*.jsonl")):
            with path.open("rb") as lines:
                for line in lines:
                    try:
                        obj = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        continue
                    count += 1
                    if keep:
                        kept.append(obj)
    finally:
        gc.enable()
    return count


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    gc.collect()  # free the last run's objects outside the timed part
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="data folder (default: bench-data/<events> beside this script)",
    )
    args = parser.parse_args()
    folder = args.data or Path(__file__).parent / "bench-data" / str(args.events)
    generate(folder, args.events, "--corrupt", "20")

    log = read_events(folder)
    counts = len(log.events), len(log.bad_lines), len(log.files)
    del log  # a kept log would make every timed run below allocate on top of it
    print(f"{folder}: {counts[0]} events, {counts[1]} bad lines, {counts[2]} files")
    runs: dict[str, Callable[[], object]] = {
        "read_events": lambda: read_events(folder),
        "bare loop, kept": lambda: bare_loop(folder, keep=True),
        "bare loop, discarded": lambda: bare_loop(folder, keep=False),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, run in runs.items():
            times[name].append(timed(run))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        rate = counts[0] / median / 1000
        print(f"{name:22} median {median:7.3f} s  ({rate:6.1f} k events/s)")
    reader = medians["read_events"]
    for name in ("bare loop, kept", "bare loop, discarded"):
        print(f"throughput ratio read_events / {name}: {medians[name] / reader:.2f}")


if __name__ == "__main__":
    main()

"""Benchmark: a CPU-heavy metric (about 2 ms a case) serially and with `-n 2`.

    python bench/xdist.py [--events 2000] [--repeat 3]

Each run a fresh `pytest --trainloop -q` process; prints median wall times, the speed-up, and
checks that both runs wrote the same counts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import make_projects  # noqa: E402  (same generated events as bench/cases.py)

HEAVY_METRIC = """
import hashlib
import pytest

@pytest.mark.trainloop_suite("bench", tags=["bench"])
def heavy(event):
    digest = event.response.encode()
    for _ in range(3000):  # about 2 ms of CPU on the development machine
        digest = hashlib.sha256(digest).digest()
    return digest[0] != 256
"""


def run(project: Path, extra: list[str]) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--trainloop",
            "-q",
            "-p",
            "no:randomly",
            "--trainloop-results",
            "run.json",
            *extra,
        ],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    wall = time.perf_counter() - start
    metric = json.loads((project / "run.json").read_text())["suites"]["bench"]["metrics"]["heavy"]
    return wall, {k: metric[k] for k in ("passed", "failed", "errors", "total")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    trainloop, _ = make_projects(HERE / "bench-data" / f"xdist-{args.events}", args.events, 0)
    (trainloop / "test_metrics.py").write_text(HEAVY_METRIC)
    serial: list[float] = []
    parallel: list[float] = []
    counts = []
    for _ in range(args.repeat):
        wall, c1 = run(trainloop, [])
        serial.append(wall)
        wall, c2 = run(trainloop, ["-n", "2"])
        parallel.append(wall)
        counts.append(c1 == c2)
    a, b = statistics.median(serial), statistics.median(parallel)
    print(
        f"{args.events} cases of a ~2 ms metric: serial {a:.2f} s, -n 2 {b:.2f} s, "
        f"speed-up {a / b:.2f}x, same counts: {all(counts)}"
    )


if __name__ == "__main__":
    main()

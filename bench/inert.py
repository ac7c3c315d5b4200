"""Benchmark: a plain test suite with pytest-trainloop installed but not enabled, against
the same suite with the plugin disabled (`-p no:trainloop`).

    python bench/inert.py [--tests 5000] [--repeat 7]

The suite is one file of N trivial parametrized tests and no trainloop marker; each run is a
fresh process, the two kinds interleaved. Prints median wall times and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

SUITE = """
import pytest

@pytest.mark.parametrize("n", range({tests}))
def test_plain(n):
    assert n >= 0
"""


def run(project: Path, args: list[str]) -> float:
    start = time.perf_counter()
    # Other plugins off, so that only ours differs between the two runs.
    plain = ["-q", "-p", "no:randomly", "-p", "no:asyncio"]
    subprocess.run(
        [sys.executable, "-m", "pytest", *plain, *args],
        cwd=project,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    project = HERE / "bench-data" / f"inert-{args.tests}"
    project.mkdir(parents=True, exist_ok=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_plain.py").write_text(SUITE.format(tests=args.tests))
    installed: list[float] = []
    disabled: list[float] = []
    for _ in range(args.repeat):
        installed.append(run(project, []))
        disabled.append(run(project, ["-p", "no:trainloop"]))
    a, b = statistics.median(installed), statistics.median(disabled)
    print(
        f"{args.tests} plain tests: installed, not enabled {a:.3f} s | "
        f"-p no:trainloop {b:.3f} s | ratio {a / b:.3f}"
    )


if __name__ == "__main__":
    main()

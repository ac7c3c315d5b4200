"""Benchmark: what being installed, not enabled, costs a plain pytest run.

    python bench/inert.py [--tests 10] [--repeat 9] [--dont-write-bytecode]

Four venvs with the same pytest as the one running this script, built once (bench/venvs.py:
again when `pyproject.toml` or `src/` changes):

- `bare`: pytest alone;
- `plugin`: pytest and this project (`pip install .`: its own dependencies, no extras);
- `app`: pytest and httpx, as in an app that calls OpenAI or Anthropic through their SDKs (httpx
  brings anyio, and anyio registers a pytest plugin of its own);
- `app+plugin`: the same and this project with its judge extra (`pip install ".[judge]"`).

Bytecode is cached as it is by default, also the assertion-rewritten bytecode pytest keeps for
every plugin's modules: with `--dont-write-bytecode` every side runs with
PYTHONDONTWRITEBYTECODE=1 (as many Docker images set it), where pytest rewrites and compiles
each plugin module it imports again in every run.

`-p no:trainloop` is no baseline: it leaves our dependencies (and their pytest plugins) loaded.
The suite is one file of N trivial parametrized tests and no trainloop marker; each run is a
fresh process, the four venvs in turn, round after round (A B C D A B C D ...), one round of
warm-up first. Prints each venv's median wall and CPU time (user + system, of the run's process:
steadier than wall time on a shared machine), and the median of the round-by-round ratios
plugin/bare and app+plugin/app, with their spread.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from venvs import ROOT, build, clean_env, pinned_pytest  # noqa: E402

SUITE = """
import pytest

@pytest.mark.parametrize("n", range({tests}))
def test_plain(n):
    assert n >= 0
"""


def requirements() -> dict[str, list[str]]:
    """What each venv gets, pytest pinned to the running one's version on every side."""
    pytest = pinned_pytest()
    return {
        "bare": [pytest],
        "plugin": [pytest, str(ROOT)],
        "app": [pytest, "httpx"],
        "app+plugin": [pytest, "httpx", f"{ROOT}[judge]"],
    }


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(python: Path, project: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run."""
    cpu, start = cpu_of_children(), time.perf_counter()
    subprocess.run(
        [str(python), "-m", "pytest", "-q"],
        cwd=project,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start, cpu_of_children() - cpu


def report(kind: str, times: dict[str, list[float]]) -> None:
    print(f"  {kind}: " + " | ".join(f"{n} {statistics.median(t):.3f} s" for n, t in times.items()))
    for with_, without in (("plugin", "bare"), ("app+plugin", "app")):
        ratios = sorted(a / b for a, b in zip(times[with_], times[without], strict=True))
        print(
            f"    {with_}/{without}: median of pair ratios {statistics.median(ratios):.3f} "
            f"(min {ratios[0]:.3f}, max {ratios[-1]:.3f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--dont-write-bytecode", action="store_true")
    args = parser.parse_args()
    pythons = {name: build(name, packages) for name, packages in requirements().items()}
    project = HERE / "bench-data" / f"inert-{args.tests}"
    project.mkdir(parents=True, exist_ok=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_plain.py").write_text(SUITE.format(tests=args.tests))
    # Nothing from the caller's shell may add or remove plugins on one side only.
    env = clean_env(args.dont_write_bytecode)
    wall: dict[str, list[float]] = {name: [] for name in pythons}
    cpu: dict[str, list[float]] = {name: [] for name in pythons}
    for round_ in range(args.repeat + 1):
        for name, python in pythons.items():
            took, used = run(python, project, env)
            if round_:  # round 0 warms the disk cache and writes the bytecode
                wall[name].append(took)
                cpu[name].append(used)
    bytecode = " without bytecode files" if args.dont_write_bytecode else ""
    print(f"{args.tests} plain tests{bytecode}, medians of {args.repeat} rounds:")
    report("wall", wall)
    report("cpu", cpu)


if __name__ == "__main__":
    main()

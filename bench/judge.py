"""Benchmark: a judge suite against a loopback server that answers after a set latency.

    python bench/judge.py [--cases 200] [--latency-ms 50] [--concurrency 16]

200 cases, each one verdict from 2 models with k=3 (12 calls: 6 on the claim, 6 on its
negation), cache off so every call goes out. Runs the suite serially and with `-n 4`, and an
async twin of its metric in batch mode (one test, its events 16 at a time; and with `-n 4`, a
chunk of 50 per worker); prints the wall
time, the ideal (calls x latency / calls allowed in flight) and their ratio, and the most calls
the server saw in flight at once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.judge_server import JudgeServer, serving  # noqa: E402  (the tests' own server)

METRIC = """
import pytest

@pytest.mark.trainloop_suite("judged", tags=["bench"])
def judged(event, trainloop_judge):
    return trainloop_judge.assert_true(f"Reply {event.id} is helpful [true]")

@pytest.mark.trainloop_suite("judged", tags=["bench"])
async def judged_async(event, trainloop_judge):
    return await trainloop_judge.assert_true_async(f"Reply {event.id} is helpful [true]")
"""


def make_project(folder: Path, cases: int, latency_ms: int, concurrency: int) -> None:
    events = folder / "data" / "events"
    events.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "input": {"messages": [{"role": "user", "content": f"question {i}"}]},
                "output": {"content": f"answer {i}"},
                "metadata": {"tags": ["bench"], "request_id": f"req_{i:05d}"},
            }
        )
        for i in range(cases)
    ]
    (events / "bench.jsonl").write_text("\n".join(lines) + "\n")
    # pytest-asyncio (of the test extras) warns at each run without a loop scope.
    (folder / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (folder / "test_judge_bench.py").write_text(METRIC)
    (folder / "trainloop.config.yaml").write_text(
        "trainloop:\n  judge:\n"
        f"    models: [openai/slow:{latency_ms}, anthropic/slow:{latency_ms}]\n"
        f"    calls_per_model_per_claim: 3\n    concurrency: {concurrency}\n    cache: off\n"
    )


def run(folder: Path, server: JudgeServer, extra: list[str]) -> tuple[float, int, int]:
    env = {
        **os.environ,
        "OPENAI_BASE_URL": f"{server.url}/v1",
        "ANTHROPIC_BASE_URL": server.url,
        "OPENAI_API_KEY": "bench",
        "ANTHROPIC_API_KEY": "bench",
    }
    before = len(server.requests)
    server.max_in_flight = 0
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--trainloop", "-q", "-p", "no:randomly", *extra],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the benchmark suite failed (exit {done.returncode})")
    return wall, len(server.requests) - before, server.max_in_flight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    folder = ROOT / "bench" / "bench-data" / f"judge-{args.cases}"
    make_project(folder, args.cases, args.latency_ms, args.concurrency)
    latency = args.latency_ms / 1000
    for server in serving():
        sync, batch = ["-k", "not judged_async"], ["-k", "judged_async", "--trainloop-batch"]
        for label, extra, processes in (
            ("serial", sync, 1),
            ("-n 4", [*sync, "-n", "4"], 4),
            ("batch", batch, 1),
            # In chunks of 50, so that the 200 events make a chunk for each of the 4 workers.
            ("batch -n 4", [*batch, "--trainloop-batch-size", "50", "-n", "4"], 4),
        ):
            wall, calls, peak = run(folder, server, extra)
            in_flight = args.concurrency * processes
            ideal = calls * latency / in_flight
            print(
                f"{label:6} {calls} calls, latency {args.latency_ms} ms: wall {wall:.2f} s, "
                f"ideal {ideal:.2f} s ({in_flight} in flight allowed), ratio {wall / ideal:.2f}, "
                f"peak in flight {peak}"
            )


if __name__ == "__main__":
    main()

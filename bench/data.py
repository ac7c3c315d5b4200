"""The benchmarks' events, made by ../shared/tools/gen_events.py (deterministic for a size)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# ../shared beside the repository, or beside the folder of worktrees a checkout may sit in
GENERATOR = next(
    (
        path
        for path in (p / "shared" / "tools" / "gen_events.py" for p in Path(__file__).parents[2:4])
        if path.exists()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "tools" / "gen_events.py",
)


def generate(out: Path, events: int, *options: str) -> None:
    """Write `events` events under `out`/events/, unless it already holds some."""
    if any((out / "events").glob("*.jsonl")):
        return
    subprocess.run(
        [sys.executable, str(GENERATOR), "-n", str(events), "--out", str(out), *options],
        check=True,
        stdout=subprocess.DEVNULL,
    )

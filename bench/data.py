"""The benchmarks' events, made by the shared generator `shared/tools/gen_events.py`
(deterministic for a size).

The generator is found through `TRAINLOOP_GEN_EVENTS` (its path) when set, otherwise as
`shared/tools/gen_events.py` in the nearest folder above this checkout that has one: a clone
next to `shared/` and a git worktree further down (`/work/wt/<name>`) both find it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_RELATIVE = Path("shared") / "tools" / "gen_events.py"


_HERE = Path(__file__).resolve().parent


def _find() -> Path:
    given = os.environ.get("TRAINLOOP_GEN_EVENTS")
    if given:
        return Path(given)
    found = (folder / _RELATIVE for folder in _HERE.parents)
    return next((path for path in found if path.is_file()), _HERE.parents[1] / _RELATIVE)


GENERATOR = _find()  # checked when events are to be made: only then is it needed


def generate(out: Path, events: int, *options: str) -> None:
    """Write `events` events under `out`/events/, unless it already holds some."""
    if any((out / "events").glob("*.jsonl")):
        return
    if not GENERATOR.is_file():
        raise SystemExit(
            f"no event generator at {GENERATOR}: set TRAINLOOP_GEN_EVENTS to gen_events.py's path"
        )
    subprocess.run(
        [sys.executable, str(GENERATOR), "-n", str(events), "--out", str(out), *options],
        check=True,
        stdout=subprocess.DEVNULL,
    )

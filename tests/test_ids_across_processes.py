"""Event ids are the same in separate processes (no `hash()` salt), so xdist workers agree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import documented_event, flat_event, write_lines

PRINT_IDS = (
    "import sys; from pytest_trainloop import read_events; "
    "print(' '.join(e.id for e in read_events(sys.argv[1]).events))"
)


def test_ids_are_equal_in_two_separate_processes(data_folder: Path) -> None:
    write_lines(
        data_folder / "events" / "a.jsonl",
        [
            documented_event(None, content="one"),
            flat_event(),
            flat_event(),
            documented_event("req_x"),
            documented_event("req_x", content="other"),
        ],
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", PRINT_IDS, str(data_folder)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.split()
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 5

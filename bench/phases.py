"""A pytest plugin for benchmarks: when each phase of a run ended, printed to stderr at the end.

    PYTHONPATH=bench python -m pytest -p phases ...

Times count from this plugin's import, which pytest does early in start-up (after importing
itself): `configured`, `collected`, `ran` (all tests done, before the session's end hooks),
`finished` (results written, terminal summary shown). After each phase, in brackets, the
seconds the garbage collector took during it.
"""

from __future__ import annotations

import gc
import sys
import time

import pytest

_START = time.perf_counter()
_MARKS: list[tuple[str, float, float]] = []
_gc_seconds = 0.0
_gc_started = 0.0


def _time_collections(phase: str, info: dict[str, int]) -> None:
    global _gc_seconds, _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
    else:
        _gc_seconds += time.perf_counter() - _gc_started


gc.callbacks.append(_time_collections)


def _mark(name: str) -> None:
    global _gc_seconds
    _MARKS.append((name, time.perf_counter() - _START, _gc_seconds))
    _gc_seconds = 0.0


def pytest_configure() -> None:
    _mark("configured")


def pytest_collection_finish() -> None:
    _mark("collected")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish() -> None:
    _mark("ran")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure() -> None:
    _mark("finished")
    sys.stderr.write(
        "phases: " + " ".join(f"{name}={at:.2f}(gc {g:.2f})" for name, at, g in _MARKS) + "\n"
    )

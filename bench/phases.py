"""A pytest plugin for benchmarks: when each phase of a run ended, printed to stderr at the end.

    PYTHONPATH=bench python -m pytest -p phases ...

Times count from this plugin's import, which pytest does early in start-up (after importing
itself): `configured`, `collected`, `ran` (all tests done, before the session's end hooks),
`finished` (results written, terminal summary shown).
"""

from __future__ import annotations

import sys
import time

import pytest

_START = time.perf_counter()
_MARKS: list[tuple[str, float]] = []


def _mark(name: str) -> None:
    _MARKS.append((name, time.perf_counter() - _START))


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
    sys.stderr.write("phases: " + " ".join(f"{name}={at:.2f}" for name, at in _MARKS) + "\n")

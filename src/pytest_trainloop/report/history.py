"""Earlier runs' scores, read from a results folder, for the report's chart over time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

__all__ = ["HistoryPoint", "gather_history"]

RESULTS_GLOB = "evaluation_results_*.json"


@dataclass(frozen=True)
class HistoryPoint:
    """One run's overall score and each suite's, as the chart draws them."""

    timestamp: str
    file: str  # the results file's name
    overall: float | None
    suites: dict[str, float]


# Only what the chart needs: msgspec skips the rest of the file (a large run's details are most
# of its bytes) without building it, so a folder of large runs is read in a blink.
class _Suite(msgspec.Struct):
    overall_score: float | None = None


class _Summary(msgspec.Struct):
    overall_score: float | None = None


class _Head(msgspec.Struct):
    timestamp: str = ""
    complete: bool | None = None
    summary: _Summary | None = None
    suites: dict[str, _Suite] = {}


_DECODER = msgspec.json.Decoder(_Head)


def point_of(results: dict[str, Any], file: str = "") -> HistoryPoint:
    """The chart's point of a results dict already in memory (the run being reported)."""
    summary = results.get("summary") or {}
    suites = results.get("suites") or {}
    overall = summary.get("overall_score") if isinstance(summary, dict) else None
    return HistoryPoint(
        timestamp=str(results.get("timestamp") or ""),
        file=file,
        overall=overall if isinstance(overall, int | float) else None,
        suites={
            name: float(suite["overall_score"])
            for name, suite in (suites.items() if isinstance(suites, dict) else ())
            if isinstance(suite, dict) and isinstance(suite.get("overall_score"), int | float)
        },
    )


def gather_history(
    results_dir: str | os.PathLike[str], *, limit: int = 50, exclude: str | None = None
) -> list[HistoryPoint]:
    """The latest `limit` complete runs in `results_dir`, oldest first.

    A run marked `"complete": false` (narrowed by `-k`, `--lf`, a shard, ...) is left out: its
    scores are of other cases and would draw a drop that never happened. Files written before
    runs were marked carry no mark and are taken as complete. A file that cannot be read as
    results is skipped: the chart is a view, it must not stop a report. `exclude` names a file
    to leave out (the run being reported, drawn from its own dict).
    """
    folder = Path(results_dir)
    points: list[HistoryPoint] = []
    # Names sort by their UTC timestamp; newest first, so reading stops at `limit`.
    for path in sorted(folder.glob(RESULTS_GLOB), reverse=True):
        if len(points) >= limit:
            break
        if path.name == exclude:
            continue
        try:
            head = _DECODER.decode(path.read_bytes())
        except (OSError, msgspec.DecodeError):
            continue
        if head.complete is False:
            continue
        points.append(
            HistoryPoint(
                timestamp=head.timestamp,
                file=path.name,
                overall=head.summary.overall_score if head.summary else None,
                suites={
                    name: suite.overall_score
                    for name, suite in head.suites.items()
                    if suite.overall_score is not None
                },
            )
        )
    points.sort(key=lambda p: (p.timestamp, p.file))
    return points

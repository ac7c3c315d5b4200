"""The results JSON: build it from a tally, write it atomically, read earlier runs for the trend."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from pytest_trainloop.summary import Gate, Tally

FORMAT_VERSION = 1
RESULTS_GLOB = "evaluation_results_*.json"
SUMMARY_NAME = "evaluation_summary.json"
_STAMP = "%Y%m%dT%H%M%SZ"


def _round(score: float | None) -> float | None:
    return None if score is None else round(score, 4)


def build(
    tally: Tally,
    gates: list[Gate],
    now: datetime,
    bad_lines: list[str],
    configuration: dict[str, Any],
) -> dict[str, Any]:
    suites: dict[str, Any] = {}
    for suite, tallies in tally.suites().items():
        suites[suite] = {
            "metrics": {
                t.metric: {
                    "passed": t.passed,
                    "failed": t.failed,
                    "errors": t.errors,
                    "total": t.total,
                    "score": _round(t.score),
                    "threshold": t.threshold,
                    "min_score": t.min_score,
                    "judge_usage": t.judge_usage,
                    # Sorted, so a run gives the same file whatever order reports arrived in.
                    "details": sorted(t.details, key=itemgetter("event_id")),
                }
                for t in tallies
            },
            "overall_score": _round(Tally.suite_score(tallies)),
            "judge_usage": tally.judge_usage(suite),
            "tags": tally.suite_tags.get(suite, []),
            "left_out_errors": tally.left_out_errors.get(suite, 0),
        }
    for suite, reason in sorted(tally.empty_suites.items()):
        if suite not in suites:
            suites[suite] = {
                "metrics": {},
                "overall_score": None,
                "tags": tally.suite_tags.get(suite, []),
                "left_out_errors": tally.left_out_errors.get(suite, 0),
                "skipped": reason,
            }
    passed, failed, errors = tally.totals()
    overall = _round(tally.overall_score())
    return {
        "format_version": FORMAT_VERSION,
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "suites": suites,
        "summary": {
            "overall_score": overall,
            "pass_rate": overall,
            "passed": passed,
            "failed": failed,
            "errors": errors,
            "total": passed + failed + errors,
            "unattributed_errors": tally.unattributed_errors,
            "left_out_errors": tally.left_out_total,
            "suites": len(suites),
            "metrics": len(tally.metrics),
        },
        "gates": [
            {
                "gate": g.name,
                "suite": g.suite,
                "metric": g.metric,
                "bound": g.bound,
                "score": _round(g.score),
                "held": g.held,
            }
            for g in gates
        ],
        "gates_held": all(g.held for g in gates),
        "bad_lines": {"count": len(bad_lines), "lines": bad_lines},
        # The judge's own calls and tokens, apart from the events' recorded usage.
        "judge_usage": tally.judge_usage(),
        "configuration": configuration,
    }


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it, so it is read once, at import
    os.umask(mask)
    return mask


# mkstemp makes a file only its owner may read; results and cached answers are for the team's
# dashboards and runs too, so they get the mode any new file gets.
_NEW_FILE_MODE = 0o666 & ~_umask()


def write_atomically(path: Path, data: bytes, exclusive: bool = False) -> Path:
    """Write through a temporary file so that readers never see half a file; returns the path.

    With `exclusive`, an existing file is never replaced: `name_2.json`, `name_3.json`, ... are
    tried instead (two runs in the same second both keep their results).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    os.fchmod(fd, _NEW_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        if not exclusive:
            os.replace(tmp, path)
            return path
        target, n = path, 1
        while True:
            try:
                os.link(tmp, target)  # fails if target exists: no run overwrites another
                return target
            except FileExistsError:
                n += 1
                target = path.with_name(f"{path.stem}_{n}{path.suffix}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _dump(results: dict[str, Any]) -> bytes:
    return orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"


def _scan_history(results_dir: Path, week_ago: datetime, exclude: Path) -> list[dict[str, Any]]:
    """Earlier runs' scores read from their own files (each holds every case: can be slow)."""
    history: list[dict[str, Any]] = []
    for path in sorted(results_dir.glob(RESULTS_GLOB)):
        stamp = path.stem.removeprefix("evaluation_results_")
        if path == exclude or stamp < week_ago.strftime(_STAMP):
            continue
        try:
            earlier = orjson.loads(path.read_bytes())
            history.append(
                {
                    "timestamp": earlier["timestamp"],
                    "overall_score": earlier["summary"]["overall_score"],
                }
            )
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
            continue  # a foreign or damaged file says nothing about the trend
    return history


def _trend(results_dir: Path, now: datetime, score: float | None, exclude: Path) -> dict[str, Any]:
    """Score change since the previous run, and the runs of the last 7 days (oldest first).

    The previous summary already holds the history: reading it is one small file, where the
    run files of a week of large runs are gigabytes. Without it, the run files are read.
    """
    week_ago = now - timedelta(days=7)
    try:
        previous = orjson.loads((results_dir / SUMMARY_NAME).read_bytes())
        history = [
            *previous["trend"]["last_7_days"],
            {
                "timestamp": previous["timestamp"],
                "overall_score": previous["summary"]["overall_score"],
            },
        ]
        oldest = week_ago.strftime("%Y-%m-%dT%H:%M:%S")
        history = [h for h in history if str(h["timestamp"]) >= oldest]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        history = _scan_history(results_dir, week_ago, exclude)
    last = history[-1]["overall_score"] if history else None
    change = None if last is None or score is None else round(score - last, 4)
    return {"previous_overall_score": last, "change": change, "last_7_days": history}


def write(
    results: dict[str, Any], results_dir: Path, now: datetime, explicit_path: Path | None
) -> Path:
    """Write the run's file and refresh evaluation_summary.json; return the run's file."""
    if explicit_path is not None:
        return write_atomically(explicit_path, _dump(results), exclusive=False)
    run_path = results_dir / f"evaluation_results_{now.strftime(_STAMP)}.json"
    trend = _trend(results_dir, now, results["summary"]["overall_score"], exclude=run_path)
    written = write_atomically(run_path, _dump(results), exclusive=True)
    write_atomically(
        results_dir / SUMMARY_NAME, _dump(_summary(results, written, trend)), exclusive=False
    )
    return written


def _summary(results: dict[str, Any], run_file: Path, trend: dict[str, Any]) -> dict[str, Any]:
    """The latest run without its per-case details (they stay in the run's own file, named
    here): dashboards read this file often, and details are most of a large run's bytes."""
    suites = {
        name: {
            **suite,
            "metrics": {
                metric: {k: v for k, v in values.items() if k != "details"}
                for metric, values in suite["metrics"].items()
            },
        }
        for name, suite in results["suites"].items()
    }
    return {**results, "suites": suites, "results_file": run_file.name, "trend": trend}


def read(path: Path) -> dict[str, Any]:
    """A results file as written by `write`."""
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def utc_now() -> datetime:
    return datetime.now(timezone.utc)

"""The results JSON: build it from a tally, write it (atomically: atomic.py), read earlier runs for
the trend."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

from pytest_trainloop.atomic import remove_stale_temp_files, stream_atomically, write_atomically
from pytest_trainloop.summary import Details, Gate, MetricTally, Tally

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
    partial: list[str],
) -> dict[str, Any]:
    """The results JSON; `partial` says why the run did not evaluate every case its suites
    selected (empty for a complete run, the only kind that moves the summary and trend)."""
    suites: dict[str, Any] = {}
    last: Details | None = None  # the metrics of a selection share the order of their cases

    def details(metric: MetricTally) -> Details:
        nonlocal last
        last = metric.details_like(last)
        return last

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
                    "max_drop": t.max_drop,
                    "judge_usage": t.judge_usage,
                    # Sorted by event id, so a run gives the same file whatever order reports
                    # arrived in; made one by one when written (a `summary.Details`).
                    "details": details(t),
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
        "complete": not partial,
        "partial": partial,
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


_INDENTED = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
_BLOCK = 4096  # cases encoded and written at a time
# A plain pass (no reason, no votes), its id needing no escape: most cases of most runs.
_PASSED = '{"event_id":"%s","verdict":"passed"}'
_PASSED_SCORED = '{"event_id":"%s","verdict":"passed","score":%s}'
_ESCAPED = re.compile(r'["\\\x00-\x1f]')  # what JSON (and orjson) escapes in a string


def dump(results: dict[str, Any], out: IO[bytes]) -> None:
    """Write the results JSON to `out`, piece by piece: as `orjson` with `OPT_INDENT_2` would,
    but each case of a `details` array on one line of its own (a million cases indented by
    orjson took 6 lines and 113 bytes each), and without the whole file ever in memory."""
    _write(out, results, b"")
    out.write(b"\n")


def dumps(results: dict[str, Any]) -> bytes:
    """The bytes `dump` writes."""
    pieces: list[bytes] = []

    class _Out:
        def write(self, data: bytes) -> int:
            pieces.append(data)
            return len(data)

    dump(results, _Out())  # type: ignore[arg-type]
    return b"".join(pieces)


def _write(out: IO[bytes], value: object, indent: bytes) -> None:
    """`value` at a depth of `indent`; objects are opened here, down to their `details`."""
    if not isinstance(value, dict) or not value or not all(type(k) is str for k in value):
        out.write(orjson.dumps(value, option=_INDENTED).replace(b"\n", b"\n" + indent))
        return
    inner = indent + b"  "
    separator = b"{\n"
    for key, item in value.items():
        out.write(separator + inner + orjson.dumps(key) + b": ")
        separator = b",\n"
        if key == "details" and isinstance(item, Sequence) and not isinstance(item, str):
            _write_details(out, item, inner)
        else:
            _write(out, item, inner)
    out.write(b"\n" + indent + b"}")


def _write_details(out: IO[bytes], details: Sequence[Any], indent: bytes) -> None:
    """A `details` array, one case per line, in blocks of `_BLOCK` cases."""
    if not details:
        out.write(b"[]")
        return
    inner = b"\n" + indent + b"  "
    out.write(b"[" + inner)
    if isinstance(details, Details):
        blocks = _detail_blocks(details, ",\n" + indent.decode() + "  ")
    else:
        blocks = _plain_blocks(details, b"," + inner)
    separator = b""
    for block in blocks:
        out.write(separator + block)
        separator = b"," + inner
    out.write(b"\n" + indent + b"]")


def _plain_blocks(details: Sequence[Any], separator: bytes) -> Iterator[bytes]:
    for start in range(0, len(details), _BLOCK):
        yield separator.join([orjson.dumps(d) for d in details[start : start + _BLOCK]])


def _detail_blocks(details: Details, separator: str) -> Iterator[bytes]:
    """A tally's cases encoded from its columns, a block at a time: a plain pass by a template
    when no event id of its block needs an escape in JSON, every other case by orjson."""
    tally, order = details.tally, details.order
    ids, scores, full = tally.ids, tally.scores, tally.full
    between = '","verdict":"passed"}' + separator + '{"event_id":"'
    for start in range(0, len(order), _BLOCK):
        indexes = order[start : start + _BLOCK]
        # itemgetter takes them in C; one index would give the id itself, not a tuple
        block_ids = itemgetter(*indexes)(ids) if len(indexes) > 1 else (ids[indexes[0]],)
        plain = _ESCAPED.search("".join(block_ids)) is None
        if plain and not tally.scored and full.keys().isdisjoint(indexes):
            # Plain passes only, and no score: the block is one join.
            yield ('{"event_id":"' + between.join(block_ids) + '","verdict":"passed"}').encode()
            continue
        block: list[str] = []
        for index in indexes:
            if plain and index not in full:  # a plain pass whose id needs no escaping
                score = scores[index]
                if score != score:
                    block.append(_PASSED % ids[index])
                else:
                    block.append(_PASSED_SCORED % (ids[index], orjson.dumps(score).decode()))
                continue
            block.append(orjson.dumps(tally.detail_at(index)).decode())
        yield separator.join(block).encode()


_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
_REQUIRED = object()


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return "a number" if isinstance(value, int | float) else _JSON_KINDS.get(type(value), "?")


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _field(record: object, where: str, key: str, default: object = _REQUIRED) -> Any:
    """`record[key]`, `record` being at `where` in a JSON file; a ValueError that says what is
    wrong, and where, when `record` is not an object or (without a default) has no `key`."""
    if not isinstance(record, dict):
        raise ValueError(f"{where or 'the file'} is {_kind(record)}, not an object")
    if key in record:
        return record[key]
    if default is _REQUIRED:
        raise ValueError(f"{_at(where, key)} is missing")
    return default


def _point(timestamp: object, score: object, where: str, score_at: str) -> dict[str, Any]:
    """One run of the trend, its values checked (ValueError naming the one of a wrong type)."""
    if not isinstance(timestamp, str):
        raise ValueError(f"{_at(where, 'timestamp')} is {_kind(timestamp)}, not a string")
    if not (score is None or (isinstance(score, int | float) and not isinstance(score, bool))):
        raise ValueError(f"{score_at} is {_kind(score)}, not a number or null")
    return {"timestamp": timestamp, "overall_score": score}


def _run_point(data: object) -> dict[str, Any] | None:
    """A run's place in the trend, from its results (or summary) JSON; None for a partial run.
    A ValueError saying what is wrong when `data` is not a results JSON."""
    timestamp = _field(data, "", "timestamp")
    if _field(data, "", "complete", None) is False:
        return None  # files from before `complete` existed were all counted: still are
    score = _field(_field(data, "", "summary"), "summary", "overall_score")
    return _point(timestamp, score, "", "summary.overall_score")


def _scan_history(results_dir: Path, week_ago: datetime, exclude: Path) -> list[dict[str, Any]]:
    """Earlier complete runs' scores read from their own files (each holds every case: can be
    slow)."""
    history: list[dict[str, Any]] = []
    for path in sorted(results_dir.glob(RESULTS_GLOB)):
        stamp = path.stem.removeprefix("evaluation_results_")
        if path == exclude or stamp < week_ago.strftime(_STAMP):
            continue
        try:
            point = _run_point(orjson.loads(path.read_bytes()))
        except (OSError, ValueError):  # orjson's JSONDecodeError is a ValueError
            continue  # a foreign or damaged file says nothing about the trend
        if point is not None:
            history.append(point)
    return history


def _summary_history(path: Path) -> list[dict[str, Any]] | None:
    """The runs the previous summary holds (its trend, then itself); None when there is no
    summary. A ValueError saying what is wrong, and where, when it is damaged."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"unreadable: {exc.strerror}") from None
    try:
        previous = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    entries = _field(_field(previous, "", "trend"), "trend", "last_7_days")
    if not isinstance(entries, list):
        raise ValueError(f"trend.last_7_days is {_kind(entries)}, not an array")
    history = []
    for n, entry in enumerate(entries):
        where = f"trend.last_7_days[{n}]"
        timestamp, score = (_field(entry, where, key) for key in ("timestamp", "overall_score"))
        history.append(_point(timestamp, score, where, f"{where}.overall_score"))
    itself = _run_point(previous)
    return history if itself is None else [*history, itself]


def _trend(
    results_dir: Path, now: datetime, score: float | None, exclude: Path
) -> tuple[dict[str, Any], str | None]:
    """Score change since the previous complete run, and the complete runs of the last 7 days
    (oldest first); with why the previous summary could not be read, when it was damaged.

    The previous summary already holds the history: reading it is one small file, where the
    run files of a week of large runs are gigabytes. Without it, or when it is damaged, the run
    files are read.
    """
    week_ago = now - timedelta(days=7)
    damage = None
    try:
        history = _summary_history(results_dir / SUMMARY_NAME)
    except ValueError as exc:
        history, damage = None, str(exc)
    if history is None:
        history = _scan_history(results_dir, week_ago, exclude)
    else:
        oldest = week_ago.strftime("%Y-%m-%dT%H:%M:%S")
        history = [h for h in history if h["timestamp"] >= oldest]
    last = history[-1]["overall_score"] if history else None
    change = None if last is None or score is None else round(score - last, 4)
    trend = {"previous_overall_score": last, "change": change, "last_7_days": history}
    return trend, damage


class Written(NamedTuple):
    """Where a run's results went, and what the writing found on its way."""

    path: Path  # the run's own file
    summary_written: bool  # False for a partial run or an explicit --trainloop-results path
    damaged_summary: str | None  # why the previous summary was not read, when it was damaged


def write(
    results: dict[str, Any],
    results_dir: Path,
    now: datetime,
    explicit_path: Path | None,
    started: float,
) -> Written:
    """Write the run's file; a complete run refreshes evaluation_summary.json too.

    The run's own file is written first, whatever the state of the summary: a run's results are
    never lost to an earlier run's damage. Stale temporary files of killed writes (older than
    `started`) are removed from the folder written to.
    """

    if explicit_path is not None:
        return _write_run(results, explicit_path, now, started, exclusive=False, summary=False)
    run_path = results_dir / f"evaluation_results_{now.strftime(_STAMP)}.json"
    return _write_run(results, run_path, now, started, exclusive=True, summary=True)


def write_as_run(results: dict[str, Any], path: Path, now: datetime, started: float) -> Written:
    """Write a run's file at `path` of the user's choosing, and, for a complete run, refresh
    evaluation_summary.json in its folder as a run writing there would (`pytest-trainloop
    merge -o`: the merged shards are the complete run that no single process ran)."""
    return _write_run(results, path, now, started, exclusive=False, summary=True)


def _write_run(
    results: dict[str, Any],
    path: Path,
    now: datetime,
    started: float,
    *,
    exclusive: bool,
    summary: bool,
) -> Written:
    """The run's file at `path` (`exclusive`: never replacing another), stale temporary files
    of its folder removed; with `summary`, a complete run refreshes the folder's summary."""
    remove_stale_temp_files(path.parent, started)
    written = stream_atomically(path, lambda out: dump(results, out), exclusive=exclusive)
    if not summary or not results["complete"]:
        return Written(written, False, None)
    return Written(written, True, _refresh_summary(results, path.parent, now, written))


def _refresh_summary(
    results: dict[str, Any], results_dir: Path, now: datetime, written: Path
) -> str | None:
    """evaluation_summary.json for a complete run's results; why the previous summary could not
    be read, when it was damaged."""
    trend, damage = _trend(results_dir, now, results["summary"]["overall_score"], written)
    write_atomically(results_dir / SUMMARY_NAME, dumps(_summary(results, written, trend)))
    return damage


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


def utc_now() -> datetime:
    return datetime.now(timezone.utc)

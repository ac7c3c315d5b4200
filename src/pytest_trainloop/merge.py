"""Sharded runs: the merge of the shards' files into the one a single run would have written.

Pure (no pytest): the session marks a shard's results with `shards.shard_fields`;
`pytest-trainloop merge` (cli.py) reads the files with `read_shard`, and `merge` folds their
cases into one `Tally`, as a single run folds its reports. Nothing is averaged (the mean of
shard scores is not the run's score): every count, score and gate is recomputed from the cases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_trainloop.baseline import MetricBaseline, Verdicts, tolerating_label
from pytest_trainloop.compare import DEFAULT_ALPHA, ResultsFileError, read_results
from pytest_trainloop.results import FORMAT_VERSION
from pytest_trainloop.shards import SECTION, Regression, label
from pytest_trainloop.summary import Gate, Tally, merge_usage
from pytest_trainloop.tolerance import fails, tolerating_gate


class MergeError(Exception):
    """Files that cannot be merged: the message names the file (or the missing shard) and says
    what is wrong."""


@dataclass(frozen=True)
class ShardFile:
    path: Path
    data: dict[str, Any]
    index: int
    count: int
    regression: Regression | None  # None in the files of versions that did not record it

    @property
    def name(self) -> str:
        return f"{self.path} ({label((self.index, self.count))})"


def _check(ok: bool, path: Path, what: str) -> None:
    if not ok:
        raise MergeError(f"{path}: not a shard's results file ({what})")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_bound(value: object) -> bool:
    return value is None or _is_number(value)


def _is_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_usage(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(counts, dict) and all(_is_int(n) for n in counts.values())
        for counts in value.values()
    )


def _regression(path: Path, section: Mapping[str, Any]) -> Regression | None:
    """The run's regression options a shard recorded (None: it recorded none), checked."""
    value = section.get("regression")
    if value is None:
        return None
    _check(isinstance(value, dict), path, f"shard.regression is {value!r}, not an object")
    fail, drop, alpha = (value.get(k) for k in ("fail_on_regression", "max_drop", "alpha"))
    where = "shard.regression."
    _check(isinstance(fail, bool), path, f"{where}fail_on_regression is {fail!r}, not a boolean")
    _check(
        drop is None or (_is_number(drop) and 0 <= drop <= 1),
        path,
        f"{where}max_drop is {drop!r}, not null or a number in [0, 1]",
    )
    _check(
        _is_number(alpha) and 0 < alpha < 1,
        path,
        f"{where}alpha is {alpha!r}, not a number between 0 and 1",
    )
    return Regression(fail, None if drop is None else float(drop), float(alpha))


def read_shard(path: Path) -> ShardFile:
    """A shard's results file, checked to hold everything the merge reads."""
    try:
        data = read_results(path)  # the cases: every one's id and verdict
    except ResultsFileError as exc:
        raise MergeError(str(exc)) from None
    conf = data.get("configuration")
    if not isinstance(conf, dict):
        raise MergeError(f"{path}: not a shard's results file (no 'configuration' object)")
    shard, section = conf.get("shard"), data.get(SECTION)
    if shard is None or not isinstance(section, dict):
        raise MergeError(
            f"{path}: not a shard's results file (a run without --trainloop-shard I/N)"
        )
    index, count = (shard.get(k) if isinstance(shard, dict) else None for k in ("index", "count"))
    if not (type(index) is int and type(count) is int and 1 <= index <= count):
        raise MergeError(
            f"{path}: not a shard's results file (configuration.shard is {shard!r}, not "
            "{'index': I, 'count': N})"
        )
    empties = section.get("empty_metrics")
    _check(
        isinstance(empties, list)
        and all(
            isinstance(e, dict)
            and all(isinstance(e.get(k), str) for k in ("suite", "metric", "reason"))
            and isinstance(e.get("must_not_be_empty"), bool)
            for e in empties
        ),
        path,
        "shard.empty_metrics is not a list of {suite, metric, reason, must_not_be_empty}",
    )
    summary = data.get("summary")
    counts = ("total", "unattributed_errors", "left_out_errors")
    _check(
        isinstance(summary, dict) and all(_is_int(summary.get(k)) for k in counts),
        path,
        "no summary counts",
    )
    bad = data.get("bad_lines")
    _check(isinstance(bad, dict) and _is_strings(bad.get("lines")), path, "no bad_lines.lines")
    _check(_is_strings(data.get("partial")), path, "no 'partial' list")
    for suite, values in data["suites"].items():
        where = f"suite {suite!r}"
        _check(_is_strings(values.get("tags", [])), path, f"{where}: tags")
        _check(_is_int(values.get("left_out_errors", 0)), path, f"{where}: left_out_errors")
        for metric, entry in values["metrics"].items():
            where = f"{suite}/{metric}"
            for key in ("min_score", "threshold", "max_drop"):
                _check(_is_bound(entry.get(key)), path, f"{where}: {key} is not a number")
            _check(_is_usage(entry.get("judge_usage", {})), path, f"{where}: judge_usage")
    return ShardFile(path, data, index, count, _regression(path, section))


def _without_shard(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data["configuration"].items() if k != "shard"}


def _differences(
    ours: Mapping[str, Any], theirs: Mapping[str, Any], show: Callable[[Any], str]
) -> str:
    """`key ours there theirs` for each key whose values differ, by key ("": none differs)."""
    differ = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
    return ", ".join(f"{k} {show(ours.get(k))} there {show(theirs.get(k))}" for k in differ)


def check(shards: Sequence[ShardFile]) -> None:
    """One configuration (all but the shard) and regression options, one format, shards 1..N
    once each, and the same event files read; a MergeError naming the file or shard that does
    not fit."""
    first = shards[0]
    for shard in shards:
        version = shard.data.get("format_version")
        if version != FORMAT_VERSION:
            raise MergeError(
                f"{shard.path}: format_version {version!r}, this pytest-trainloop merges "
                f"{FORMAT_VERSION}: merge with the version that ran the shards"
            )
        if shard.count != first.count:
            raise MergeError(
                f"{shard.name} is not a shard of the same split as {first.name}: {first.count} "
                f"shards there, {shard.count} here"
            )
        shown = _differences(_without_shard(shard.data), _without_shard(first.data), repr)
        if shown:
            raise MergeError(
                f"{shard.name} is not of the same run as {first.name}: its configuration "
                f"differs ({shown})"
            )
        if shard.regression != first.regression:
            if shard.regression is None or first.regression is None:
                recorded, other = (first, shard) if shard.regression is None else (shard, first)
                raise MergeError(
                    f"{recorded.name} records the run's regression options and {other.name} "
                    "does not: run every shard with the same version of pytest-trainloop"
                )
            shown = _differences(shard.regression.as_json(), first.regression.as_json(), _shown)
            raise MergeError(
                f"{shard.name} is not of the same run as {first.name}: its regression options "
                f"differ ({shown})"
            )
    seen: dict[int, ShardFile] = {}
    for shard in shards:
        twin = seen.setdefault(shard.index, shard)
        if twin is not shard:
            raise MergeError(
                f"{label((shard.index, shard.count))} given twice: {twin.path} and {shard.path}"
            )
    missing = [label((n, first.count)) for n in range(1, first.count + 1) if n not in seen]
    if missing:
        raise MergeError(
            f"{', '.join(missing)} missing: every shard of the run is needed "
            f"(given: {', '.join(s.name for s in sorted(shards, key=lambda s: s.index))})"
        )
    # Every shard read every event file; one that ran no case announced none of its bad lines.
    ran = [s for s in shards if s.data["summary"]["total"]]
    for shard in ran[1:]:
        if shard.data["bad_lines"]["lines"] != ran[0].data["bad_lines"]["lines"]:
            raise MergeError(
                f"{shard.name} found other bad event lines than {ran[0].name}: the shards did "
                "not read the same event files"
            )


@dataclass
class Merged:
    """The single run the shards make up: its tally, gates, and what its results file holds."""

    tally: Tally
    gates: list[Gate]
    bad_lines: list[str]
    configuration: dict[str, Any]
    partial: list[str]
    regression: Regression | None  # the run's, as its shards recorded them


def _fold(tally: Tally, data: Mapping[str, Any]) -> None:
    """One shard's cases, counts and facts into `tally`."""
    for suite, values in data["suites"].items():
        tags = values.get("tags")
        if tags and suite not in tally.suite_tags:
            tally.suite_tags[suite] = tags
        # Failed calls left out are counted before the split: every shard of the suite says all.
        left_out = max(tally.left_out_errors.get(suite, 0), values.get("left_out_errors", 0))
        tally.left_out_errors[suite] = left_out
        for metric, entry in values["metrics"].items():
            t = tally.metric(suite, metric)
            t.min_score, t.threshold = entry.get("min_score"), entry.get("threshold")
            t.max_drop = entry.get("max_drop")
            for d in entry["details"]:
                t.count(
                    d["event_id"],
                    d["verdict"],
                    d.get("reason", ""),
                    d.get("score"),
                    d.get("input", ""),
                    d.get("output", ""),
                    d.get("judge_votes"),
                )
            merge_usage(t.judge_usage, entry.get("judge_usage", {}))
    summary = data["summary"]
    tally.left_out_total = max(tally.left_out_total, summary["left_out_errors"])
    tally.unattributed_errors += summary["unattributed_errors"]


def merge(shards: Sequence[ShardFile]) -> Merged:
    """The shards (checked with `check`) as one run."""
    check(shards)
    ordered = sorted(shards, key=lambda s: s.index)
    tally = Tally()
    for shard in ordered:
        _fold(tally, shard.data)
    # A metric had nothing to evaluate in the run only if it had nothing in every shard's share.
    for shard in ordered:
        for empty in shard.data[SECTION]["empty_metrics"]:
            key = (empty["suite"], empty["metric"])
            if key not in tally.metrics:
                tally.empty_suites.setdefault(key[0], empty["reason"])
                if empty["must_not_be_empty"]:
                    tally.must_not_be_empty[key] = empty["reason"]
    configuration = {**ordered[0].data["configuration"], "shard": None}
    partial: list[str] = []  # why a shard was partial, other than being a shard
    for shard in ordered:
        own = label((shard.index, shard.count))
        partial += [r for r in shard.data["partial"] if r != own and r not in partial]
    ran = [s for s in ordered if s.data["summary"]["total"]] or ordered
    return Merged(
        tally,
        tally.gates(configuration.get("fail_under")),
        list(ran[0].data["bad_lines"]["lines"]),
        configuration,
        partial,
        ordered[0].regression,
    )


# The merge's flags for the regression options (cli.py), by the name the shards record them.
FLAGS = {"fail_on_regression": "--fail-on-regression", "max_drop": "--max-drop", "alpha": "--alpha"}


def regression_options(
    recorded: Regression | None,
    fail_on_regression: bool | None,
    max_drop: float | None,
    alpha: float | None,
) -> tuple[Regression, list[str]]:
    """The regression options the merge gates with: each of its flags that was given (not
    None), else the run's as its shards `recorded` them, else the default; and a line for each
    flag that overrides a different value the shards recorded."""
    run = recorded or Regression(False, None, DEFAULT_ALPHA)
    given = {"fail_on_regression": fail_on_regression, "max_drop": max_drop, "alpha": alpha}
    ours = {**run.as_json(), **{k: v for k, v in given.items() if v is not None}}
    lines = []
    if recorded is not None:
        for name, theirs in recorded.as_json().items():
            if ours[name] != theirs:
                value = ours[name]
                flag = FLAGS[name] if isinstance(value, bool) else f"{FLAGS[name]} {value:g}"
                lines.append(f"{flag} overrides the shards' {name} {_shown(theirs)}")
    return Regression(**ours), lines


def _shown(value: bool | float | None) -> str:
    """A regression option's value as a shard's results file has it."""
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


def exit_code(
    merged: Merged,
    baseline: Verdicts | None = None,
    fail_on_regression: bool = False,
    overall_max_drop: float | None = None,
) -> int:
    """The single run's exit code: 1 when a gate did not hold (the regression gates are the
    caller's, from `baseline.apply`), or when a metric's cases fail the run by the rule that
    gave the single run's cases their outcomes (tolerance.py; a shard leaves it to here): a case
    errored, or failed with no gate tolerating it; else 0.

    `baseline`: the verdicts of the baseline the merge compared with (`Compared.verdicts`), and
    the regression gates' options, which tolerate failing cases on events it has.
    """
    tally = merged.tally
    if not all(g.held for g in merged.gates) or tally.unattributed_errors > 0:
        return 1
    fail_under = merged.configuration.get("fail_under")
    for key, t in tally.metrics.items():
        verdicts = None if baseline is None else baseline.get(key)
        paired = None
        if verdicts is not None:  # as a run's process makes it for the metric's cases (run.py)
            gate = tolerating_label(t.max_drop, fail_on_regression, overall_max_drop)
            paired = MetricBaseline(verdicts, gate)
        tolerating = tolerating_gate(t.min_score, fail_under, None, paired, t.failed_ids())
        if fails(t.failed, t.errors, tolerating):
            return 1
    return 0

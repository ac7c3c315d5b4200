"""A run's settings: the options (options.py) resolved once per run.

Precedence: command line > environment > ini > trainloop.config.yaml > default.

Every option is a `--trainloop-*` flag (default None, so "not given" is visible) and a
`trainloop_*` ini key; a few also read a `TRAINLOOP_*` variable or a key of the `trainloop:`
mapping in `trainloop.config.yaml`. `Settings.resolve` turns them into plain values, so they are
the same on xdist workers, and raises `pytest.UsageError` naming the source of a bad value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_trainloop.config_file import (
    CONFIG_FILE,
    ConfigFileError,
    judge_section,
    load_config_file,
    local_data_folder,
    resolve_data_folder,
    shown_data_folder,
)
from pytest_trainloop.redact import redacted_repr
from pytest_trainloop.suites import Selection
from pytest_trainloop.timestamps import parse_iso_timestamp

if TYPE_CHECKING:  # the judge is imported where its settings are checked or used
    from pytest_trainloop.judge import JudgeConfig

DEFAULT_BATCH_SIZE = 5000
DEFAULT_ALPHA = 0.05  # as compare.DEFAULT_ALPHA, which this light module does not import
BASELINE_INPUT = "trainloop_baseline"  # the controller's baseline file, in a worker's input
DEFAULT_BATCH_CONCURRENCY = 16  # the judge's own default bound on calls in flight


def _given(config: pytest.Config, name: str) -> tuple[str | None, str]:
    """An option's raw value from the command line, else the ini file, and where it came from."""
    value = config.getoption("trainloop_" + name)
    if value is not None:
        return value, "--trainloop-" + name.replace("_", "-")
    ini = config.getini("trainloop_" + name)
    return (ini or None), f"the trainloop_{name} ini key"


def _number(
    config: pytest.Config, name: str, kind: type[int] | type[float], least: int = 0
) -> float | None:
    value, source = _given(config, name)
    if value is None:
        return None
    try:
        number = kind(value)
    except ValueError:
        number = None
    if kind is int and (number is None or number < least):
        why = " (0 events would evaluate nothing)" if least == 1 else ""
        raise pytest.UsageError(f"{source} must be a whole number >= {least}{why}, got {value!r}")
    if kind is float and (number is None or not 0 <= number <= 1):
        raise pytest.UsageError(f"{source} must be a number in [0, 1], got {value!r}")
    return number


def _time(config: pytest.Config, name: str) -> datetime | None:
    value, source = _given(config, name)
    if value is None:
        return None
    try:
        return parse_iso_timestamp(value.strip())
    except ValueError:
        raise pytest.UsageError(
            f"{source} must be an ISO 8601 date or timestamp such as 2024-01-15 or "
            f"2024-01-15T14:30:00Z, got {value!r}"
        ) from None


def _shard(config: pytest.Config) -> tuple[int, int] | None:
    value, source = _given(config, "shard")
    if value is None:
        return None
    index, _, count = value.strip().partition("/")
    if index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count):
        return int(index), int(count)
    raise pytest.UsageError(
        f"{source} must be I/N with 1 <= I <= N, such as 2/4 for the second of four, got {value!r}"
    )


def _path(config: pytest.Config, name: str) -> Path | None:
    value, _ = _given(config, name)
    return None if value is None else config.invocation_params.dir / value


def _flag(config: pytest.Config, name: str) -> bool:
    """A switch: the command line when given, else its ini key."""
    value = config.getoption("trainloop_" + name)
    return bool(config.getini("trainloop_" + name) if value is None else value)


def _baseline(config: pytest.Config, results_dir: Path) -> tuple[Path | None, str]:
    """The baseline's results file, checked, and where it was named (as the options were).

    `latest` is the newest complete run in the results folder, found now, before this run
    writes its own. A file that is missing or not a results file is a usage error naming it.
    """
    value, source = _given(config, "baseline")
    if value is None:
        return None, ""
    resolved = getattr(config, "workerinput", {}).get(BASELINE_INPUT)
    if resolved:  # an xdist worker: the controller found and checked it (`Run`), once for all
        return Path(resolved), source
    # The comparison's reading, imported only when a baseline is asked for.
    from pytest_trainloop.compare import ResultsFileError, latest_complete, read_results

    if value.strip() == "latest":
        found = latest_complete(results_dir)
        if found is None:
            raise pytest.UsageError(
                f"{source} is 'latest', but {results_dir} holds no complete run yet: run once "
                "without a baseline first"
            )
        return found, source
    path = config.invocation_params.dir / value
    try:
        read_results(path)
    except ResultsFileError as exc:
        raise pytest.UsageError(f"{source} names no results file: {exc}") from None
    return path, source


def _selection(config: pytest.Config) -> Selection:
    suites = config.getoption("trainloop_suite") or config.getini("trainloop_suite").split()
    tags_text, tags_source = _given(config, "tags")
    tags = None
    if tags_text is not None:
        tags = tuple(t.strip() for t in tags_text.split(",") if t.strip())
        if not tags:
            raise pytest.UsageError(f"{tags_source} must list tags separated by commas")
    sample = _number(config, "sample", int, least=1)
    seed = _number(config, "seed", int)
    limit = _number(config, "limit", int, least=1)
    since, until = _time(config, "since"), _time(config, "until")
    if since is not None and until is not None and since >= until:
        raise pytest.UsageError(
            f"--trainloop-since ({since}) must be before --trainloop-until ({until})"
        )
    return Selection(
        suites=tuple(suites),
        tags=tags,
        limit=None if limit is None else int(limit),
        sample=None if sample is None else int(sample),
        seed=0 if seed is None else int(seed),
        since=since,
        until=until,
        shard=_shard(config),
    )


@dataclass(frozen=True)
class Settings:
    """The effective options of one run, each plain and picklable."""

    data_folder: Path | str  # a string for a URL (`s3://bucket/prefix`), read by `events`
    data_folder_source: str
    local_folder: Path  # where results/ and judge_cache/ go: the data folder, if not a URL
    selection: Selection
    fail_under: float | None
    results_path: Path | None
    strict: bool
    batch_size: int | None  # events per test in batch mode; None: one test per event
    batch_concurrency: int  # events of a chunk an async metric has in flight at once
    judge_options: dict[str, Any]  # trainloop.config.yaml's judge: mapping, CLI/ini applied
    config_dir: Path  # where relative paths of the config file start
    baseline: Path | None = None  # a results file, checked (`latest` resolved at start-up)
    baseline_source: str = ""  # the option or ini key that named it
    fail_on_regression: bool = False
    alpha: float = DEFAULT_ALPHA
    max_drop: float | None = None  # on the overall paired score
    html_path: Path | None = None
    markdown_path: Path | None = None
    step_summary: bool = True  # append the Markdown summary to $GITHUB_STEP_SUMMARY

    __repr__ = redacted_repr  # the data folder's URL, a judge's base URL, may hold a login

    def judge_config(self) -> JudgeConfig:
        """The judge's settings, checked by `resolve` already."""
        from pytest_trainloop.judge import JudgeConfig

        return JudgeConfig.from_mapping(self.judge_options, self.config_dir, self.local_folder)

    @property
    def data_folder_shown(self) -> str:
        """The data folder as messages and the results file show it (no password of a URL)."""
        return shown_data_folder(self.data_folder)

    @property
    def events_folder_shown(self) -> str:
        return f"{self.data_folder_shown}/events"

    @classmethod
    def resolve(cls, config: pytest.Config) -> Settings:
        config_path = config.rootpath / CONFIG_FILE
        try:
            file_options = load_config_file(config_path)
            data_folder, source = resolve_data_folder(
                config_path,
                file_options,
                cwd=config.invocation_params.dir,
                option=config.getoption("trainloop_data_folder"),
                ini=config.getini("trainloop_data_folder"),
                ini_dir=config.inipath.parent if config.inipath else config.rootpath,
                default_source="the default, data/ in the rootdir",
            )
            judge_file_options = judge_section(file_options, config_path)
            local_folder = local_data_folder(data_folder, config_path)
        except ConfigFileError as exc:
            raise pytest.UsageError(str(exc)) from None
        results, _ = _given(config, "results")
        strict = config.getoption("trainloop_strict")
        judge_options = _judge_options(config, config_path, judge_file_options, local_folder)
        batch = config.getoption("trainloop_batch")
        batch_size = _number(config, "batch_size", int)
        concurrency = _number(config, "batch_concurrency", int)
        for value, name in ((batch_size, "size"), (concurrency, "concurrency")):
            if value == 0:
                raise pytest.UsageError(f"--trainloop-batch-{name} must be at least 1")
        return cls(
            data_folder=data_folder,
            data_folder_source=source,
            local_folder=local_folder,
            selection=_selection(config),
            fail_under=_number(config, "fail_under", float),
            results_path=None if results is None else config.invocation_params.dir / results,
            strict=bool(config.getini("trainloop_strict") if strict is None else strict),
            batch_size=(
                int(batch_size or DEFAULT_BATCH_SIZE)
                if (config.getini("trainloop_batch") if batch is None else batch)
                else None
            ),
            batch_concurrency=int(concurrency or DEFAULT_BATCH_CONCURRENCY),
            judge_options=judge_options,
            config_dir=config_path.parent,
            **_comparison_and_reports(config, local_folder / "results"),
        )


def _comparison_and_reports(config: pytest.Config, results_dir: Path) -> dict[str, Any]:
    """The settings of the baseline comparison and of the report files."""
    baseline, baseline_source = _baseline(config, results_dir)
    alpha = _number(config, "alpha", float)
    if alpha is not None and not 0 < alpha < 1:
        raise pytest.UsageError(
            f"{_given(config, 'alpha')[1]} must be a number between 0 and 1 (exclusive), "
            f"got {alpha!r}"
        )
    return {
        "baseline": baseline,
        "baseline_source": baseline_source,
        "fail_on_regression": _flag(config, "fail_on_regression"),
        "alpha": DEFAULT_ALPHA if alpha is None else alpha,
        "max_drop": _number(config, "max_drop", float),
        "html_path": _path(config, "html"),
        "markdown_path": _path(config, "markdown"),
        "step_summary": _flag(config, "step_summary"),
    }


def _judge_options(
    config: pytest.Config, config_path: Path, section: dict[str, Any], local_folder: Path
) -> dict[str, Any]:
    """The config file's `judge:` mapping with the judge options of the command line and ini
    applied, checked at start-up (with or without a judge metric in the run): a bad value is a
    usage error naming where it came from."""
    options = dict(section)
    given: dict[str, str] = {}  # the judge settings given as options, and by which
    models, source = _given(config, "judge_models")
    if models is not None:
        options["models"] = [m.strip() for m in models.split(",") if m.strip()]
        given["models"] = source
    calls = _number(config, "judge_calls", int)
    if calls is not None:
        options["calls_per_model_per_claim"] = int(calls)
        given["calls_per_model_per_claim"] = _given(config, "judge_calls")[1]
    cache, source = _given(config, "judge_cache")
    if cache is not None:
        options["cache"] = cache
        given["cache"] = source
    # Only the settings part of the judge: asyncio and httpx are imported where a judge runs.
    if not options:  # nothing to check: the defaults (and no judge import, 5 ms)
        return options
    from pytest_trainloop.judge import JudgeConfig, JudgeConfigError

    try:
        JudgeConfig.from_mapping(options, config_path.parent, local_folder)
    except JudgeConfigError as exc:
        source = given.get(exc.setting or "", f"'judge:' in {config_path}")
        raise pytest.UsageError(f"{exc} (from {source})") from None
    return options

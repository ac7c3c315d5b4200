"""Where the data folder and the options come from, each source on its own, and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import INI, Project, documented_event

METRIC = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["greeting"])
def says_hello(event):
    assert event.response.startswith("Hello")
"""


def events_in(folder: Path, request_id: str = "req_1") -> None:
    from tests.conftest import write_lines

    write_lines(folder / "events" / "e.jsonl", [documented_event(request_id)])


@pytest.fixture
def metric_project(project: Project) -> Project:
    project.metrics(METRIC)
    return project


def ran_on(result: pytest.RunResult) -> str:
    """The event id the run evaluated, from the verbose line of the one case."""
    [line] = [line for line in result.outlines if "says_hello[" in line and "PASSED" in line]
    return line.split("[", 1)[1].split("]", 1)[0]


def test_the_default_is_data_under_the_rootdir(metric_project: Project) -> None:
    events_in(metric_project.data)
    result = metric_project.run("--trainloop", "-v")
    assert ran_on(result) == "req_1"
    result.stdout.fnmatch_lines(
        [f"trainloop: data folder {metric_project.data} (from the default*"]
    )


def test_the_command_line_option_wins(
    metric_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    events_in(metric_project.path / "cli", "from_cli")
    events_in(metric_project.path / "env", "from_env")
    monkeypatch.setenv("TRAINLOOP_DATA_FOLDER", "env")
    result = metric_project.run("--trainloop", "-v", "--trainloop-data-folder", "cli")
    assert ran_on(result) == "from_cli"
    result.stdout.fnmatch_lines(["trainloop: data folder *cli (from --trainloop-data-folder)"])


def test_the_environment_variable_comes_next(
    metric_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    events_in(metric_project.path / "env", "from_env")
    events_in(metric_project.path / "ini", "from_ini")
    metric_project.pytester.makeini(INI + "trainloop_data_folder = ini\n")
    monkeypatch.setenv("TRAINLOOP_DATA_FOLDER", "env")
    assert ran_on(metric_project.run("--trainloop", "-v")) == "from_env"


def test_the_ini_key_is_relative_to_the_ini_file(
    metric_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    events_in(metric_project.path / "ini", "from_ini")
    events_in(metric_project.path / "yaml", "from_yaml")
    metric_project.pytester.makeini(INI + "trainloop_data_folder = ini\n")
    (metric_project.path / "trainloop.config.yaml").write_text("trainloop:\n  data_folder: yaml\n")
    sub = metric_project.path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)  # run from elsewhere: the path still resolves beside the ini file
    test_file = str(metric_project.path / "test_metrics.py")
    assert ran_on(metric_project.run("--trainloop", "-v", test_file)) == "from_ini"


def test_the_config_file_is_relative_to_itself(metric_project: Project) -> None:
    events_in(metric_project.path / "conf" / "data", "from_yaml")
    events_in(metric_project.data, "default")
    (metric_project.path / "trainloop.config.yaml").write_text(
        "trainloop:\n  data_folder: conf/data\n"
    )
    result = metric_project.run("--trainloop", "-v")
    assert ran_on(result) == "from_yaml"
    result.stdout.fnmatch_lines(
        ["trainloop: data folder * (from data_folder in *trainloop.config.yaml)"]
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--trainloop-data-folder", ""], None, "--trainloop-data-folder must name the folder*"),
        (
            ["--trainloop-data-folder", "missing"],
            None,
            "*names a folder that does not exist: *missing",
        ),
        (["--trainloop-data-folder", "test_metrics.py"], None, "*names a file, not a folder*"),
        ([], "missing", "TRAINLOOP_DATA_FOLDER names a folder that does not exist*"),
    ],
)
def test_a_bad_data_folder_is_a_usage_error(
    metric_project: Project,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: str | None,
    message: str,
) -> None:
    if env is not None:
        monkeypatch.setenv("TRAINLOOP_DATA_FOLDER", env)
    result = metric_project.run("--trainloop", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_a_broken_config_file_is_a_usage_error_naming_it(metric_project: Project) -> None:
    (metric_project.path / "trainloop.config.yaml").write_text("trainloop: [unclosed\n")
    result = metric_project.run("--trainloop")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *trainloop.config.yaml is not valid YAML*"])
    (metric_project.path / "trainloop.config.yaml").write_text("data_folder: data\n")
    result = metric_project.run("--trainloop")
    result.stderr.fnmatch_lines(["ERROR: *must hold a mapping under the key 'trainloop:'"])


def test_a_missing_events_folder_names_it_and_how_to_point_elsewhere(
    metric_project: Project,
) -> None:
    result = metric_project.run("--trainloop")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*no events folder at *data/events: point pytest-trainloop at*"])


OPTION_ERRORS = [
    ("limit", "-1", "must be a whole number >= 1 (0 events would evaluate nothing), got '-1'"),
    ("sample", "many", "must be a whole number >= 1 (0 events would evaluate nothing), got 'many'"),
    ("fail_under", "1.5", "must be a number in [[]0, 1], got '1.5'"),
    ("since", "last week", "must be an ISO 8601 date or timestamp*got 'last week'"),
    ("shard", "0/4", "must be I/N with 1 <= I <= N, such as 2/4 for the second of four, got '0/4'"),
    ("shard", "3", "must be I/N with 1 <= I <= N*got '3'"),
    ("alpha", "0", "must be a number between 0 and 1 (exclusive), got 0.0"),
    ("max_drop", "-0.1", "must be a number in [[]0, 1], got '-0.1'"),
    ("baseline", "nosuch.json", "names no results file: *nosuch.json: no such file"),
    ("baseline", "latest", "is 'latest', but *results holds no complete run yet*"),
]


@pytest.mark.parametrize(("name", "value", "message"), OPTION_ERRORS)
def test_a_bad_option_value_is_a_usage_error_from_the_command_line(
    metric_project: Project, name: str, value: str, message: str
) -> None:
    events_in(metric_project.data)
    flag = "--trainloop-" + name.replace("_", "-")
    result = metric_project.run("--trainloop", f"{flag}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {flag} {message}"])


@pytest.mark.parametrize(("name", "value", "message"), OPTION_ERRORS)
def test_a_bad_option_value_is_a_usage_error_from_the_ini_file(
    metric_project: Project, name: str, value: str, message: str
) -> None:
    events_in(metric_project.data)
    metric_project.pytester.makeini(INI + f"trainloop_{name} = {value}\n")
    result = metric_project.run("--trainloop")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: the trainloop_{name} ini key {message}"])


def test_a_baseline_that_is_not_a_results_file_is_a_usage_error_naming_it(
    metric_project: Project,
) -> None:
    events_in(metric_project.data)
    (metric_project.path / "summary.json").write_text('{"suites": {"s": {"metrics": {"m": {}}}}}')
    result = metric_project.run("--trainloop", "--trainloop-baseline", "summary.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --trainloop-baseline names no results file: *summary.json: not a results*"]
    )

"""A run split into shards (`--trainloop-shard I/N`) and merged back (`pytest-trainloop merge`)
gives what the run on one machine gives: the same results file, gates and exit code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from pytest_trainloop.suites import shard_of
from tests.conftest import INI, PLANNED_METRICS, Project, documented_event, planned_events

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("pytest-trainloop")


def as_one_run(results: dict[str, Any]) -> dict[str, Any]:
    """A results file without what differs between the merge and the single run: its time."""
    return {k: v for k, v in results.items() if k != "timestamp"}


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def case_ids(results: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    return {
        (suite, metric): [d["event_id"] for d in entry["details"]]
        for suite, values in results["suites"].items()
        for metric, entry in values["metrics"].items()
    }


def merge(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a CI job runs it."""
    return subprocess.run(
        [str(SCRIPT), "merge", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def trainloop_table(stdout: str) -> list[str]:
    """The lines of the trainloop summary, from its title to the results file's line."""
    lines = stdout.splitlines()
    start = next(n for n, line in enumerate(lines) if " trainloop " in line and "====" in line)
    end = next(n for n in range(start, len(lines)) if lines[n].startswith("results: "))
    return lines[start:end]


# --- the example project, as the README's CI recipe runs it -----------------------------------


def readme_recipe() -> tuple[list[str], list[str]]:
    """The README's GitHub Actions recipe: a shard job's pytest arguments (after `pytest`, with
    `{i}` for the matrix's shard and `{n}` for the count) and the merge job's arguments (after
    `pytest-trainloop merge`). The GitLab recipe must say the same in its own variables."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Sharding across CI machines", 1)[1].split("\n## ", 1)[0]
    commands = [
        line.strip().removeprefix("- run: ").removeprefix("- ") for line in section.splitlines()
    ]
    [shard] = {c for c in commands if c.startswith("pytest --trainloop") and "${{" in c}
    [gitlab] = {c for c in commands if c.startswith("pytest --trainloop") and "$CI_NODE" in c}
    merges = {c for c in commands if c.startswith("pytest-trainloop merge")}
    assert len(merges) == 1, merges  # the same merge line in both recipes
    github = shard.replace("${{ matrix.shard }}", "{i}").replace("/4", "/{n}")
    assert gitlab.replace("$CI_NODE_INDEX", "{i}").replace("$CI_NODE_TOTAL", "{n}") == github
    return github.split()[1:], merges.pop().split()[2:]


class ExampleRuns:
    """The example project (a copy) run once serially, once with two workers, and as three
    shards in three processes at once (the CI recipe's matrix), then merged into its results
    folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.done: dict[str, subprocess.CompletedProcess[str]] = {}

    def pytest(self, name: str, *args: str) -> subprocess.Popen[str]:
        # No key and nowhere to connect: the judge metric replays its committed answers.
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.update(
            COLUMNS="80",
            OPENAI_BASE_URL="http://127.0.0.1:9/v1",
            ANTHROPIC_BASE_URL="http://127.0.0.1:9",
        )
        # `--trainloop-results=PATH`, with the `=`: given apart, an existing PATH is taken for
        # an argument of pytest's too, and moves its rootdir.
        command = [sys.executable, "-m", "pytest", "--trainloop", "-p", "no:cacheprovider"]
        return subprocess.Popen(
            [*command, *args, f"--trainloop-results={name}.json"],
            cwd=self.folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_all(self) -> None:
        shard_args, merge_args = readme_recipe()
        started = {
            "single": self.pytest("single"),
            "xdist": self.pytest("xdist", "-n", "2"),
        }
        for shard in (1, 2, 3):
            args = [a.format(i=shard, n=3) for a in shard_args]
            # The recipe's `-n auto` inside one shard only (this machine has two cores), and its
            # results file named by `self.pytest` as the recipe names it.
            at = args.index("-n")
            args[at : at + 2] = ["-n", "2"] if shard == 3 else []
            assert f"--trainloop-results=shard-{shard}.json" in args
            args = [a for a in args if not a.startswith("--trainloop-results=")]
            assert args[0] == "--trainloop"
            started[f"shard-{shard}"] = self.pytest(f"shard-{shard}", *args[1:])
        for name, process in started.items():
            stdout, stderr = process.communicate(timeout=300)
            self.done[name] = subprocess.CompletedProcess(
                process.args, process.returncode, stdout, stderr
            )
        # the recipe's merge job: every shard's file (its glob, expanded as a shell would),
        # into the results folder of the project
        expanded = [
            name
            for arg in merge_args
            for name in (sorted(p.name for p in self.folder.glob(arg)) if "*" in arg else [arg])
        ]
        self.done["merge"] = merge(*expanded, cwd=self.folder)

    def results(self, name: str) -> dict[str, Any]:
        if name == "merge":
            (path,) = (self.folder / "data" / "results").glob("evaluation_results_*.json")
            return read(path)
        return read(self.folder / f"{name}.json")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> ExampleRuns:
    folder = tmp_path_factory.mktemp("sharded") / "example_project"
    shutil.copytree(
        ROOT / "example_project",
        folder,
        ignore=shutil.ignore_patterns(".pytest_cache", "__pycache__", "results"),
    )
    runs = ExampleRuns(folder)
    runs.run_all()
    return runs


def test_the_merged_shards_are_the_results_of_one_serial_run_and_of_one_xdist_run(
    example: ExampleRuns,
) -> None:
    for name, done in example.done.items():
        assert done.returncode == 0, f"{name}:\n{done.stdout}{done.stderr}"
    merged = as_one_run(example.results("merge"))
    assert merged == as_one_run(example.results("single"))
    assert merged == as_one_run(example.results("xdist"))
    assert merged["complete"] is True and merged["gates_held"] is True
    assert merged["configuration"]["shard"] is None
    assert merged["summary"]["total"] == 1073  # not a trivial merge: the whole example


def test_every_event_is_in_exactly_one_shard(example: ExampleRuns) -> None:
    single = case_ids(example.results("single"))
    shards = [case_ids(example.results(f"shard-{n}")) for n in (1, 2, 3)]
    for key, ids in single.items():
        parts = [shard.get(key, []) for shard in shards]
        assert sorted(i for part in parts for i in part) == sorted(ids), key
        for n, part in enumerate(parts, 1):
            assert all(shard_of(i, 3) == n for i in part), (key, n)
    assert all(sum(len(ids) for ids in shard.values()) > 200 for shard in shards)


def test_a_shard_says_which_it_is_is_partial_and_leaves_the_gates_to_the_merge(
    example: ExampleRuns,
) -> None:
    for n in (1, 2, 3):
        data = example.results(f"shard-{n}")
        assert data["configuration"]["shard"] == {"index": n, "count": 3}
        assert data["shard"] == {
            "index": n,
            "count": 3,
            "empty_metrics": [],
            # the run's regression options, for the merge: here the defaults
            "regression": {"fail_on_regression": False, "max_drop": None, "alpha": 0.05},
        }
        assert (data["complete"], data["partial"]) == (False, [f"shard {n}/3"])
        assert (data["gates"], data["gates_held"]) == ([], None)
        stdout = example.done[f"shard-{n}"].stdout
        assert f"shard {n}/3: gates are decided by `pytest-trainloop merge`" in stdout
        assert "NOT MET" not in stdout and "held" not in stdout


def test_the_merge_prints_the_single_runs_table_and_updates_the_summary(
    example: ExampleRuns,
) -> None:
    assert trainloop_table(example.done["merge"].stdout) == trainloop_table(
        example.done["single"].stdout
    )
    results = example.folder / "data" / "results"
    (run_file,) = results.glob("evaluation_results_*.json")
    assert f"results: data/results/{run_file.name}" in example.done["merge"].stdout
    summary = read(results / "evaluation_summary.json")
    assert summary["results_file"] == run_file.name
    assert summary["complete"] is True
    assert summary["summary"] == example.results("single")["summary"]
    assert "details" not in summary["suites"]["code"]["metrics"]["explains_briefly"]


def test_a_missing_shard_a_doubled_one_and_a_file_of_no_shard_are_errors_naming_them(
    example: ExampleRuns, tmp_path: Path
) -> None:
    shards = [example.folder / f"shard-{n}.json" for n in (1, 2, 3)]
    out = tmp_path / "merged.json"
    missing = merge(shards[0], shards[2], "-o", out, cwd=tmp_path)
    assert missing.returncode == 4
    assert "shard 2/3 missing" in missing.stderr
    assert str(shards[0]) in missing.stderr and str(shards[2]) in missing.stderr
    again = tmp_path / "shard-2-again.json"
    shutil.copy(shards[1], again)
    doubled = merge(*shards, again, "-o", out, cwd=tmp_path)
    assert doubled.returncode == 4
    assert f"shard 2/3 given twice: {shards[1]} and {again}" in doubled.stderr
    single = example.folder / "single.json"
    not_a_shard = merge(*shards, single, "-o", out, cwd=tmp_path)
    assert not_a_shard.returncode == 4
    assert f"{single}: not a shard's results file" in not_a_shard.stderr
    other = tmp_path / "other-run.json"
    data = read(shards[1])
    data["configuration"]["fail_under"] = 0.99
    other.write_bytes(orjson.dumps(data))
    of_another_run = merge(shards[0], other, shards[2], "-o", out, cwd=tmp_path)
    assert of_another_run.returncode == 4
    assert f"{other} (shard 2/3) is not of the same run as" in of_another_run.stderr
    assert "fail_under 0.99 there None" in of_another_run.stderr
    assert not out.exists()  # nothing written from shards that do not make up a run


# --- gates, failures and empty suites: decided by the merge alone -----------------------------

METRICS = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"], min_score=0.9)
def says_hello(event):
    return event.response.startswith("Hello"), "no hello"

@pytest.mark.trainloop_suite("s", tags=["t"])
def ungated(event):
    return event.response != "Bye", "said bye"

@pytest.mark.trainloop_suite("rare", tags=["rare"], min_score=0.5)
def found(event):
    return True

@pytest.mark.trainloop_suite("ghost", tags=["nowhere"])
def never_runs(event):
    return True
"""
IDS = [f"req_{n:02d}" for n in range(16)]


def _project(project: Project, error: bool = False) -> Project:
    """16 events, half of them saying Bye (`says_hello` misses its min_score, `ungated` fails
    cases no gate covers), one event of a rare tag, and a suite whose tags select nothing."""
    events = [
        documented_event(i, tags=["t"], content="Hello" if n % 2 else "Bye")
        for n, i in enumerate(IDS)
    ]
    events.append(documented_event("req_rare", tags=["rare"]))
    if error:
        events.append(documented_event("req_boom", tags=["t"], content="boom"))
    project.events(events)
    source = METRICS
    if error:
        source = METRICS.replace(
            'return event.response != "Bye"',
            'if event.response == "boom":\n        raise ValueError("boom")\n'
            '    return event.response != "Bye"',
        )
    project.metrics(source)
    return project


def _sharded(project: Project, *options: str) -> tuple[list[pytest.RunResult], list[Path]]:
    runs, files = [], []
    for n in (1, 2):
        path = project.path / f"shard-{n}.json"
        runs.append(
            project.run(
                "--trainloop",
                "--trainloop-shard",
                f"{n}/2",
                f"--trainloop-results={path}",
                *options,
            )
        )
        files.append(path)
    return runs, files


def _merged(
    project: Project, files: list[Path], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, dict[str, Any]]:
    from pytest_trainloop.cli import main

    out = project.path / "merged.json"
    capsys.readouterr()
    code = main(["merge", *map(str, files), "-o", str(out)])
    return code, capsys.readouterr().out, read(out)


@pytest.mark.parametrize(
    "options",
    [(), ("-n", "2"), ("--trainloop-batch", "--trainloop-batch-size=4", "-n", "2")],
    ids=["per-case", "xdist", "batch-xdist"],
)
def test_a_shard_fails_on_no_gate_and_the_merge_fails_as_the_single_run_does(
    project: Project, capsys: pytest.CaptureFixture[str], options: tuple[str, ...]
) -> None:
    _project(project)
    assert {shard_of(i, 2) for i in IDS} == {1, 2}  # both shards have cases of `s`
    single_path = project.path / "single.json"
    single = project.run("--trainloop", f"--trainloop-results={single_path}", *options)
    assert single.ret == 1  # says_hello 0.5 < 0.9, ungated failures, ghost evaluated nothing
    runs, files = _sharded(project, *options)
    for n, run in enumerate(runs, 1):
        assert run.ret == 0, run.stdout.str()
        run.stdout.fnmatch_lines([f"shard {n}/2: gates are decided by `pytest-trainloop merge`"])
        assert "NOT MET" not in run.stdout.str()
    code, out, merged = _merged(project, files, capsys)
    assert code == 1
    assert as_one_run(merged) == as_one_run(read(single_path))
    assert "trainloop gate not met: min_score of s/says_hello: score 0.500 < 0.9" in out
    assert "trainloop: ghost/never_runs evaluated nothing" in out
    gates = {(g["gate"], g["suite"], g["metric"]): g["held"] for g in merged["gates"]}
    assert gates == {
        ("min_score", "rare", "found"): True,  # in one shard's share only: not empty
        ("min_score", "s", "says_hello"): False,
        ("not_empty", "ghost", "never_runs"): False,
    }


def test_a_shard_tolerates_failing_verdicts_but_not_errors(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(project, error=True)
    runs, files = _sharded(project, "-rx")
    boom = shard_of("req_boom", 2)
    for n, run in enumerate(runs, 1):
        assert run.ret == (1 if n == boom else 0), run.stdout.str()
        run.stdout.fnmatch_lines([f"*tolerated by shard {n}/2 (the merge decides): said bye*"])
    code, _, merged = _merged(project, files, capsys)
    assert code == 1
    assert merged["suites"]["s"]["metrics"]["ungated"]["errors"] == 1


def test_a_shard_whose_share_of_a_gated_suite_is_empty_passes_and_the_merge_holds_the_gate(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.events(
        [documented_event(i, tags=["t"], content="Hello") for i in IDS]
        + [documented_event("req_rare", tags=["rare"])]
    )
    project.metrics(METRICS.split('@pytest.mark.trainloop_suite("ghost"')[0])
    runs, files = _sharded(project)
    assert [run.ret for run in runs] == [0, 0]
    empty_share = 3 - shard_of("req_rare", 2)
    entry = read(files[empty_share - 1])["shard"]["empty_metrics"]
    assert [(e["suite"], e["metric"], e["must_not_be_empty"]) for e in entry] == [
        ("rare", "found", True)
    ]
    code, out, merged = _merged(project, files, capsys)
    assert code == 0, out
    assert merged["gates_held"] is True and merged["complete"] is True
    assert "rare: skipped" not in out


def test_the_merge_compares_with_a_baseline_as_the_single_run_compares(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_trainloop.cli import main

    project.metrics(
        '@__import__("pytest").mark.trainloop_suite("s", tags=["t"], min_score=0.3)\n'
        "def says_hello(event):\n"
        '    return event.response == "Hello"\n'
    )
    baseline = project.path / "baseline.json"
    project.events([documented_event(i, tags=["t"], content="Hello") for i in IDS])
    assert project.run("--trainloop", f"--trainloop-results={baseline}").ret == 0
    project.events(
        [
            documented_event(i, tags=["t"], content="Hello" if n % 2 else "Bye")
            for n, i in enumerate(IDS)
        ]
    )
    single = project.path / "single.json"
    assert project.run("--trainloop", f"--trainloop-results={single}").ret == 0
    _, files = _sharded(project)
    out = project.path / "merged.json"
    args = ["merge", *map(str, files), "-o", str(out), "--baseline", str(baseline)]
    assert main(args) == 0  # 8 cases newly failed, but the score 0.5 holds its gate
    assert main([*args, "--fail-on-regression"]) == 1
    printed = capsys.readouterr().out
    assert "trainloop gate not met: regression of s/says_hello: flips -8 +0" in printed
    capsys.readouterr()
    assert main(["compare", str(baseline), str(single), "--json"]) == 0
    assert read(out)["comparison"] == orjson.loads(capsys.readouterr().out)


# --- the merge's exit code is the single run's, whatever the gates ----------------------------

B = "{baseline}"  # the baseline file, in an option


@dataclass(frozen=True)
class Gated:
    """A run of the planned project (conftest's PLAN) with the plan's baseline, and the exit
    code it gives, alone and as two shards merged. On side 0 of the plan the run has the
    baseline's own events: says_yes and graded fail cases on events the baseline has too, and
    nothing regressed; on side 1 they regressed."""

    code: int  # the exit code of the single run, and of its shards merged
    options: tuple[str, ...] = ()  # the single run's and the shards'
    merge: tuple[str, ...] = ()  # the merge's
    says_yes: str = ""  # keywords added to the metric's marker
    graded: str = ""
    added: tuple[dict[str, Any], ...] = ()  # events the run has on top of the plan's
    side: int = 0
    raises_on: str = ""  # an event graded raises on
    ini: str = ""  # lines of the ini file of the single run and of the shards

    def metrics(self) -> str:
        source = PLANNED_METRICS
        for metric, added in (("says_yes", self.says_yes), ("graded", self.graded)):
            if added:
                before = f'tags=["t"])\ndef {metric}'
                source = source.replace(before, f'tags=["t"], {added})\ndef {metric}')
        if self.raises_on:
            scored = "    return float("
            raises = f"    if event.id == {self.raises_on!r}:\n        raise ValueError('boom')\n"
            source = source.replace(scored, raises + scored)
        return source


REGRESSION = (f"--trainloop-baseline={B}", "--trainloop-fail-on-regression")
MERGE_REGRESSION = ("--baseline", B, "--fail-on-regression")
INI_REGRESSION = "trainloop_fail_on_regression = true"
UNPAIRED = documented_event("r99", tags=["t"], content="no 0.1")  # both metrics fail it
EXITS = {
    "no gate: failures fail": Gated(1),
    "min_score tolerates its metric's failures": Gated(
        0, says_yes="min_score=0.1", graded="min_score=0.1"
    ),
    "min_score on one metric: the other's failures fail": Gated(1, says_yes="min_score=0.1"),
    "min_score not met": Gated(1, says_yes="min_score=0.9", graded="min_score=0.1"),
    "fail_under tolerates every failure": Gated(0, ("--trainloop-fail-under=0.1",)),
    "fail_under not met": Gated(1, ("--trainloop-fail-under=0.99",)),
    "a baseline without a gate tolerates nothing": Gated(
        1, (f"--trainloop-baseline={B}",), ("--baseline", B)
    ),
    "fail-on-regression tolerates failures the baseline has": Gated(
        0, REGRESSION, MERGE_REGRESSION
    ),
    "fail-on-regression tolerates them in batch mode": Gated(
        0,
        (*REGRESSION, "--trainloop-batch", "--trainloop-batch-size=4", "-n", "2"),
        MERGE_REGRESSION,
    ),
    "fail-on-regression does not tolerate a failure the baseline lacks": Gated(
        1, REGRESSION, MERGE_REGRESSION, added=(UNPAIRED,)
    ),
    "fail-on-regression does not tolerate an error on an event the baseline has": Gated(
        1, REGRESSION, MERGE_REGRESSION, raises_on="r01"
    ),
    "a regression fails": Gated(1, REGRESSION, MERGE_REGRESSION, side=1),
    "the markers' max_drop tolerates failures the baseline has": Gated(
        0, (f"--trainloop-baseline={B}",), ("--baseline", B), "max_drop=0.5", "max_drop=0.5"
    ),
    "max_drop on one metric: the other's failures fail": Gated(
        1, (f"--trainloop-baseline={B}",), ("--baseline", B), "max_drop=0.5"
    ),
    # says_yes' paired score falls by 0.357; graded, r32 included, is tolerated by min_score
    "max_drop held by a run that changed": Gated(
        0, (f"--trainloop-baseline={B}",), ("--baseline", B), "max_drop=0.4", "min_score=0", side=1
    ),
    "max_drop not held": Gated(
        1, (f"--trainloop-baseline={B}",), ("--baseline", B), "max_drop=0.3", "min_score=0", side=1
    ),
    "--trainloop-max-drop tolerates failures the baseline has": Gated(
        0,
        (f"--trainloop-baseline={B}", "--trainloop-max-drop=0.5"),
        ("--baseline", B, "--max-drop", "0.5"),
    ),
    "--trainloop-max-drop does not tolerate a failure the baseline lacks": Gated(
        1,
        (f"--trainloop-baseline={B}", "--trainloop-max-drop=0.5"),
        ("--baseline", B, "--max-drop", "0.5"),
        added=(UNPAIRED,),
    ),
    # The regression options as the shards had them, from anywhere: the merge repeats none.
    "fail_on_regression in the ini file tolerates failures the baseline has": Gated(
        0, (f"--trainloop-baseline={B}",), ("--baseline", B), ini=INI_REGRESSION
    ),
    "fail_on_regression in the ini file fails a regression": Gated(
        1, (f"--trainloop-baseline={B}",), ("--baseline", B), ini=INI_REGRESSION, side=1
    ),
    "--trainloop-fail-on-regression given to the shards alone": Gated(
        0, REGRESSION, ("--baseline", B)
    ),
    "max_drop in the ini file tolerates failures the baseline has": Gated(
        0, (f"--trainloop-baseline={B}",), ("--baseline", B), ini="trainloop_max_drop = 0.5"
    ),
    "--trainloop-max-drop given to the shards alone": Gated(
        0, (f"--trainloop-baseline={B}", "--trainloop-max-drop=0.5"), ("--baseline", B)
    ),
    # At alpha 0.05 says_yes regressed (p=0.013) and graded's interval lies below 0 ...
    "both metrics regressed at alpha 0.05": Gated(
        1,
        (f"--trainloop-baseline={B}",),
        ("--baseline", B),
        "min_score=0",
        "min_score=0",
        ini=INI_REGRESSION,
        side=1,
    ),
    # ... and at alpha 0.001 neither did.
    "alpha in the ini file: nothing regressed at alpha 0.001": Gated(
        0,
        (f"--trainloop-baseline={B}",),
        ("--baseline", B),
        "min_score=0",
        "min_score=0",
        ini=f"{INI_REGRESSION}\ntrainloop_alpha = 0.001",
        side=1,
    ),
    "--trainloop-alpha given to the shards alone": Gated(
        0,
        (*REGRESSION, "--trainloop-alpha=0.001"),
        ("--baseline", B),
        "min_score=0",
        "min_score=0",
        side=1,
    ),
}


def _planned_baseline(project: Project) -> Path:
    """The plan's baseline, run in `project`: its results file."""
    project.metrics(PLANNED_METRICS)
    planned_events(project, 0)
    baseline = project.path / "baseline.json"
    assert project.run("--trainloop", f"--trainloop-results={baseline}").ret == 1
    return baseline


@pytest.mark.parametrize("gated", EXITS.values(), ids=list(EXITS))
def test_the_merge_exits_as_the_single_run_does_whatever_tolerates_its_failures(
    project: Project, capsys: pytest.CaptureFixture[str], gated: Gated
) -> None:
    from pytest_trainloop.cli import main

    baseline = _planned_baseline(project)
    project.pytester.makeini(f"{INI}{gated.ini}\n")
    project.metrics(gated.metrics())
    planned_events(project, gated.side)
    project.events(gated.added, name="day2.jsonl")
    options = [o.replace(B, str(baseline)) for o in gated.options]
    single_path = project.path / "single.json"
    single = project.run("--trainloop", f"--trainloop-results={single_path}", *options)
    _, files = _sharded(project, *options)
    out = project.path / "merged.json"
    capsys.readouterr()
    merged = main(
        [
            "merge",
            *map(str, files),
            "-o",
            str(out),
            *(o.replace(B, str(baseline)) for o in gated.merge),
        ]
    )
    printed = capsys.readouterr()
    assert (single.ret, merged) == (gated.code, gated.code), printed.out
    assert read(out)["gates"] == read(single_path)["gates"]
    assert read(out).get("comparison") == read(single_path).get("comparison")
    assert "overrides" not in printed.err  # the merge repeated no option otherwise


def test_the_merges_own_regression_flags_override_the_shards_and_say_so(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_trainloop.cli import main

    baseline = _planned_baseline(project)
    project.pytester.makeini(f"{INI}trainloop_alpha = 0.001\n")
    _, files = _sharded(project, f"--trainloop-baseline={baseline}")
    out = project.path / "merged.json"
    args = ["merge", *map(str, files), "-o", str(out), "--baseline", str(baseline)]
    capsys.readouterr()
    assert main(args) == 1  # the shards' run had no regression gate: its failures fail
    assert "overrides" not in capsys.readouterr().err
    assert read(out)["comparison"]["alpha"] == 0.001
    # the merge's flags win: failures on the baseline's events are tolerated, at alpha 0.2
    assert main([*args, "--fail-on-regression", "--alpha", "0.2", "--max-drop", "0.5"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "pytest-trainloop merge: --fail-on-regression overrides the shards' "
        "fail_on_regression false",
        "pytest-trainloop merge: --max-drop 0.5 overrides the shards' max_drop null",
        "pytest-trainloop merge: --alpha 0.2 overrides the shards' alpha 0.001",
    ]
    merged = read(out)
    assert merged["comparison"]["alpha"] == 0.2
    gates = {(g["gate"], g["metric"]): g["bound"] for g in merged["gates"]}
    assert gates == {
        ("regression", "says_yes"): 0.2,
        ("regression", "graded"): 0.2,
        ("max_drop", None): 0.5,
    }


def test_shards_that_recorded_no_regression_options_merge_with_the_merges_flags_or_defaults(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_trainloop.cli import main

    baseline = _planned_baseline(project)
    project.pytester.makeini(f"{INI}{INI_REGRESSION}\n")
    _, files = _sharded(project, f"--trainloop-baseline={baseline}")
    for path in files:  # as a version that did not record them wrote the files
        data = read(path)
        del data["shard"]["regression"]
        path.write_bytes(orjson.dumps(data))
    out = project.path / "merged.json"
    args = ["merge", *map(str, files), "-o", str(out), "--baseline", str(baseline)]
    capsys.readouterr()
    assert main(args) == 1
    assert main([*args, "--fail-on-regression"]) == 0
    assert "overrides" not in capsys.readouterr().err


def test_shards_with_other_regression_options_or_a_bad_one_are_errors_naming_them(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_trainloop.cli import main

    _project(project)
    files = []
    for n, options in ((1, ["--trainloop-alpha=0.01"]), (2, [])):
        path = project.path / f"shard-{n}.json"
        project.run(
            "--trainloop", f"--trainloop-shard={n}/2", f"--trainloop-results={path}", *options
        )
        files.append(path)
    out = project.path / "merged.json"
    capsys.readouterr()
    assert main(["merge", *map(str, files), "-o", str(out)]) == 4
    assert capsys.readouterr().err == (
        f"pytest-trainloop merge: error: {files[1]} (shard 2/2) is not of the same run as "
        f"{files[0]} (shard 1/2): its regression options differ (alpha 0.05 there 0.01)\n"
    )
    data = read(files[1])
    del data["shard"]["regression"]
    files[1].write_bytes(orjson.dumps(data))
    assert main(["merge", *map(str, files), "-o", str(out)]) == 4
    assert capsys.readouterr().err == (
        f"pytest-trainloop merge: error: {files[0]} (shard 1/2) records the run's regression "
        f"options and {files[1]} (shard 2/2) does not: run every shard with the same version "
        "of pytest-trainloop\n"
    )
    data["shard"]["regression"] = {"fail_on_regression": False, "max_drop": None, "alpha": "0.01"}
    files[1].write_bytes(orjson.dumps(data))
    assert main(["merge", *map(str, files), "-o", str(out)]) == 4
    assert capsys.readouterr().err == (
        f"pytest-trainloop merge: error: {files[1]}: not a shard's results file "
        "(shard.regression.alpha is '0.01', not a number between 0 and 1)\n"
    )
    assert not out.exists()

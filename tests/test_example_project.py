"""The README's first command works as written, its example output is what a run prints, and
its example metrics run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson

from tests.conftest import Project, documented_event
from tests.judge_server import JudgeServer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "example_project"


def readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.*?)\n```", readme)


def readme_output() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- example-output", 1)[1].split("```text\n", 1)[1]
    return block.split("\n```", 1)[0].splitlines()


def readme_python() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)\n```", readme, re.S)


def test_the_readme_opens_with_the_install_and_test_commands() -> None:
    first, second = readme_commands()[:2]
    assert first == (
        "python -m pip install . && (cd example_project && python -m pytest --trainloop)"
    )
    assert second == 'python -m pip install -e ".[test]" && python -m pytest -n 2'
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"\n{second}\n" in ci


def test_the_readmes_two_commands_chain_when_pasted_into_one_shell(tmp_path: Path) -> None:
    # Both commands exactly as written, one after the other, in one shell at the repository's
    # root; `python` is a stand-in that records where it ran and with what (the real install
    # and test run are too heavy to repeat inside the test suite; the evaluation itself is run
    # for real below). What can break is where each command runs.
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "python"
    stand_in.write_text(f'#!/bin/sh\nprintf "%s|%s\\n" "$PWD" "$*" >> {log}\n')
    stand_in.chmod(0o755)
    first, second = readme_commands()[:2]
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["sh", "-c", f"{first}\n{second}\n"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    calls = [line.split("|", 1) for line in log.read_text().splitlines()]
    assert [(Path(cwd).resolve(), args) for cwd, args in calls] == [
        (ROOT, "-m pip install ."),
        (EXAMPLE, "-m pytest --trainloop"),
        (ROOT, "-m pip install -e .[test]"),
        (ROOT, "-m pytest -n 2"),
    ]


def test_the_example_evaluation_ends_green_and_prints_the_readme_output(tmp_path: Path) -> None:
    # The evaluation half of the first command (the package is installed already), in a
    # fresh process, writing its results to a temporary place rather than into the checkout.
    # No key and nowhere to connect: the judge metric must replay its committed answers.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        COLUMNS="80",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        ANTHROPIC_BASE_URL="http://127.0.0.1:9",
    )
    results = tmp_path / "run.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--trainloop",
            "-p",
            "no:cacheprovider",
            "--trainloop-results",
            str(results),
        ],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    start = lines.index(readme_output()[0])
    assert lines[start : start + len(readme_output())] == readme_output()
    assert re.search(r"1001 passed, 72 xfailed, 1 warning", done.stdout)
    assert "judge: 0 calls, 280 cache hits" in done.stdout
    data = orjson.loads(results.read_bytes())
    assert data["gates_held"] is True
    assert data["bad_lines"]["count"] == 3
    assert set(data["suites"]) == {"code", "geography", "support", "translation"}


def test_the_example_events_are_what_make_events_writes(tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in (EXAMPLE / "data" / "events").rglob("*.jsonl")}
    script = (EXAMPLE / "make_events.py").read_text()
    copy = tmp_path / "make_events.py"
    copy.write_text(script)
    subprocess.run([sys.executable, str(copy)], check=True)
    after = {p: p.read_bytes() for p in (tmp_path / "data" / "events").rglob("*.jsonl")}
    assert {p.relative_to(EXAMPLE): b for p, b in before.items()} == {
        p.relative_to(tmp_path): b for p, b in after.items()
    }


def test_the_readmes_example_metrics_run_as_written(
    project: Project, judge_server: JudgeServer
) -> None:
    # Every python block of the README, in order, as one module: the first one imports.
    blocks = readme_python()
    assert len(blocks) >= 2
    project.metrics("\n\n\n".join(blocks))
    link = "https://help.acme.example/articles/42"
    project.events(
        [
            documented_event(f"s{i}", tags=["support"], content=f"See {link}" if i else "Sorry")
            for i in range(3)
        ]
        + [
            documented_event(f"c{i}", tags=["complaint"], content="[true] so sorry" if i else "No")
            for i in range(2)
        ]
    )
    (project.path / "trainloop.config.yaml").write_text(
        "trainloop:\n  judge:\n    models: [openai/truthful]\n    calls_per_model_per_claim: 1\n"
    )
    result = project.run("--trainloop")
    metrics = project.results()["suites"]["support"]["metrics"]
    assert {name: (m["passed"], m["failed"], m["errors"]) for name, m in metrics.items()} == {
        "cites_the_help_center": (2, 1, 0),
        "judge_finds_the_reply_empathetic": (1, 1, 0),
    }
    assert result.ret == 1  # two gated metrics whose scores, 0.67 and 0.5, are below their bounds

"""Installed but not enabled: the plugin brings no other pytest plugin into every run, and the
judge's HTTP client is an extra whose absence is named with the line that installs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import Project, documented_event

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
EXTRA_LINE = "pip install 'pytest-trainloop[judge]'"

# Makes `import httpx` fail in the pytest process under test, as in a venv without the extra.
NO_HTTPX = "import sys\n\nsys.modules['httpx'] = None\n"

JUDGE_METRIC = """
import pytest

@pytest.mark.trainloop_suite("support", tags=["greeting"])
def is_polite(event, trainloop_judge):
    return trainloop_judge.assert_true(f"The reply {event.id} is polite")
"""


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def unconditional_requirements(name: str) -> set[str]:
    """The distributions `name` installs when no extra is asked, and theirs, recursively."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        for text in distribution(todo.pop()).requires or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue  # an extra's, or another platform's
            if normal(requirement.name) not in seen:
                seen.add(normal(requirement.name))
                todo.append(requirement.name)
    return seen


def test_the_plugins_dependencies_register_no_pytest_plugin_of_their_own() -> None:
    # Every pytest run in the venv would load such a plugin, evaluation or not (anyio's, which
    # httpx brings, cost a third of an empty run): those are extras.
    registering = {
        normal(point.dist.name) for point in entry_points(group="pytest11") if point.dist
    } - {"pytest-trainloop"}
    assert {"anyio", "pytest-xdist"} <= registering  # the test extra installs both
    required = unconditional_requirements("pytest-trainloop")
    assert "pytest" in required
    assert sorted(required & registering) == []
    judge = [Requirement(text) for text in distribution("pytest-trainloop").requires or []]
    assert any(
        r.name == "httpx" and r.marker and r.marker.evaluate({"extra": "judge"}) for r in judge
    )


def test_an_inert_start_up_imports_no_http_client_nor_the_gates_msgspec_nor_yaml() -> None:
    probe = (
        "import sys, pytest, pytest_trainloop.plugin; "
        "print(sorted({'httpx', 'anyio', 'msgspec', 'yaml'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_inert_run_imports_only_the_options_and_the_marker(
    pytester: pytest.Pytester,
) -> None:
    # The rest (settings, the event reader, batch mode, the session) waits for --trainloop:
    # importing it cost an inert run about 10% of an empty pytest run (`python bench/inert.py`).
    pytester.makepyfile(
        """
        import sys

        import pytest

        @pytest.mark.parametrize("n", [1, 2])
        def test_plain(n):
            ours = sorted(m for m in sys.modules if m.startswith("pytest_trainloop"))
            print("ours:", ours)
        """
    )
    result = pytester.runpytest_subprocess("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    expected = "['pytest_trainloop', 'pytest_trainloop.marker', 'pytest_trainloop.options', "
    expected += "'pytest_trainloop.plugin']"
    assert result.stdout.str().count("ours: " + expected) == 2, result.stdout.str()


def test_a_judge_without_httpx_names_the_extra_to_install(project: Project) -> None:
    project.pytester.makeconftest(NO_HTTPX)
    project.events([documented_event("req_1"), documented_event("req_2")])
    project.metrics(JUDGE_METRIC)
    result = project.pytester.runpytest_subprocess("--trainloop", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=2)
    # Each case's error starts with how to mend it (counted above the short summary, which
    # pytest prints whole, repeating it, when CI is set), and the summary counts them under it.
    output = result.stdout.str()
    errors = output.split("short test summary info")[0]
    assert errors.count(f"JudgeUnavailableError: the LLM judge needs its extra: {EXTRA_LINE}") == 2
    assert "is_polite: 2x error in setup: pytest_trainloop.judge" in output
    assert "replay mode needs no httpx" in output


def test_a_judge_in_replay_mode_needs_no_httpx(tmp_path: Path) -> None:
    # The README's first command installs the plugin without extras and runs the example,
    # whose judge replays recorded answers: it must pass without httpx.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    run = (
        f"{NO_HTTPX}import pytest\n"
        "code = pytest.main(['--trainloop', '-q', '-p', 'no:cacheprovider', '-k', 'judge',\n"
        "                    '--trainloop-results', sys.argv[1]])\n"
        "assert 'httpx' not in [m for m, v in sys.modules.items() if v is not None]\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", run, str(tmp_path / "run.json")],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"judge: 0 calls, \d+ cache hits", done.stdout)

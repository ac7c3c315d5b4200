"""The judge inside a --trainloop run: the fixture, usage in the results, cache and replay."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import INI, Project, documented_event
from tests.judge_server import JudgeServer

CONFIG = """
trainloop:
  judge:
    models: [openai/truthful, anthropic/truthful]
    calls_per_model_per_claim: 1
    backoff: 0.01
    max_retries: 1
"""

METRICS = """
import pytest
from pytest_trainloop import judge

@pytest.mark.trainloop_suite("support", tags=["t"])
def is_polite(event, trainloop_judge):
    mark = "[true]" if "Hello" in event.response else ""
    return trainloop_judge.assert_true(f"The reply {event.id} is polite {mark}")

@pytest.mark.trainloop_suite("support", tags=["t"])
def module_level_judge(event):
    return judge.assert_true(f"The reply {event.id} is short [true]")
"""


# In-process runs inherit this suite's `filterwarnings = error`; a damaged entry only warns.
WARN = ("-W", "default::pytest_trainloop.TrainloopWarning")


def everything_written(judged: Project, result: pytest.RunResult, junit: Path) -> dict[str, str]:
    """Every text a run showed or wrote: where a secret must not be."""
    results = judged.data / "results"
    return {
        "terminal": result.stdout.str() + result.stderr.str(),
        "junit": junit.read_text(),
        "results": (results / judged.summary()["results_file"]).read_text(),
        "summary": (results / "evaluation_summary.json").read_text(),
    }


def the_one_reason(judged: Project) -> str:
    """The reason every case of the run shares (its judge failed the same way for each)."""
    reasons = {
        str(d["reason"])
        for metric in judged.results()["suites"]["support"]["metrics"].values()
        for d in metric["details"]
    }
    assert len(reasons) == 1
    return reasons.pop()


@pytest.fixture
def judged(project: Project, judge_server: JudgeServer) -> Project:
    project.events(
        [
            documented_event(f"e{i}", tags=["t"], content="Hello" if i % 2 else "Bye")
            for i in range(6)
        ]
    )
    (project.path / "trainloop.config.yaml").write_text(CONFIG)
    project.metrics(METRICS)
    return project


def test_judge_usage_is_reported_per_metric_suite_and_run(
    judged: Project, judge_server: JudgeServer
) -> None:
    result = judged.run("--trainloop")
    result.assert_outcomes(passed=9, failed=3)
    results = judged.results()
    polite = results["suites"]["support"]["metrics"]["is_polite"]
    assert (polite["passed"], polite["failed"]) == (3, 3)
    assert polite["judge_usage"]["openai/truthful"]["calls"] == 12  # 6 events x (claim, negation)
    assert polite["judge_usage"]["anthropic/truthful"]["prompt_tokens"] > 0
    short = results["suites"]["support"]["metrics"]["module_level_judge"]
    assert short["judge_usage"]["openai/truthful"]["calls"] == 12
    assert results["judge_usage"]["openai/truthful"]["calls"] == 24
    assert results["suites"]["support"]["judge_usage"] == results["judge_usage"]
    assert polite["details"][0]["judge_votes"] == [
        ["openai/truthful", 0, False, True],
        ["anthropic/truthful", 0, False, True],
    ]
    result.stdout.fnmatch_lines(
        ["judge: 48 calls, 0 cache hits, * completion tokens (anthropic/truthful, openai/truthful)"]
    )
    assert len(judge_server.requests) == 48


def test_a_second_run_makes_no_call_and_replay_needs_no_network(
    judged: Project, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    judged.run("--trainloop")
    first = judged.results()["suites"]
    calls = len(judge_server.requests)
    result = judged.run("--trainloop")
    assert len(judge_server.requests) == calls
    result.stdout.fnmatch_lines(["judge: 0 calls, 48 cache hits, *"])
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    (judged.path / "trainloop.config.yaml").write_text(
        CONFIG.replace("max_retries: 1", "cache: replay")
    )
    judged.run("--trainloop").assert_outcomes(passed=9, failed=3)
    assert len(judge_server.requests) == calls
    replayed = judged.results()["suites"]
    for suite in (first, replayed):
        for metric in suite["support"]["metrics"].values():
            metric.pop("judge_usage")
    replayed["support"].pop("judge_usage")
    first["support"].pop("judge_usage")
    assert replayed == first


def test_a_failing_judge_call_is_an_error_naming_model_status_and_attempts(
    judged: Project,
) -> None:
    result = judged.run(
        "--trainloop", "--trainloop-judge-models", "openai/status:500:0", "-k", "is_polite"
    )
    result.assert_outcomes(failed=6, deselected=6)
    result.stdout.fnmatch_lines(
        ["*JudgeCallError: openai/status:500:0: HTTP 500 after 2 attempt(s)"]
    )
    metric = judged.results()["suites"]["support"]["metrics"]["is_polite"]
    assert metric["errors"] == 6
    assert metric["judge_usage"] == {}


def test_a_failing_judge_shows_no_key_even_with_showlocals(judged: Project) -> None:
    result = judged.run(
        "--trainloop",
        "--trainloop-judge-models",
        "openai/status:500:0",
        "-k",
        "is_polite",
        "-l",
        "--tb=long",
    )
    output = result.stdout.str()
    assert "JudgeCallError" in output
    assert "sk-test-openai-secret" not in output


def test_a_damaged_cache_entry_is_asked_again_and_a_leftover_temp_file_ignored(
    judged: Project, judge_server: JudgeServer
) -> None:
    judged.run("--trainloop", "-k", "is_polite")
    calls = len(judge_server.requests)
    entry = next(p for p in (judged.data / "judge_cache").rglob("*.json"))
    entry.write_text('{"answer": "<result>tr')  # as if killed mid-write without our rename
    (entry.parent / ".tmp-leftover").write_text("{")
    result = judged.run("--trainloop", "-k", "is_polite", *WARN)
    result.assert_outcomes(passed=3, failed=3, deselected=6)
    result.stdout.fnmatch_lines([f"*TrainloopWarning: judge cache entry {entry} cannot be read*"])
    assert len(judge_server.requests) == calls + 1
    assert orjson.loads(entry.read_bytes())["answer"]


@pytest.mark.parametrize("workers", [[], ["-n2"]], ids=["serial", "-n2"])
def test_entries_a_killed_run_left_as_temporary_files_are_asked_again_and_the_files_removed(
    judged: Project, judge_server: JudgeServer, workers: list[str]
) -> None:
    judged.run("--trainloop", "-k", "is_polite")
    calls = len(judge_server.requests)
    entries = sorted((judged.data / "judge_cache").rglob("*.json"))
    # As a run killed between writing each entry and renaming it into place leaves them: whole
    # entries under write_atomically's temporary names, two hours old.
    hour_ago = time.time() - 2 * 3600  # past STALE_AFTER
    left = []
    for n, entry in enumerate(entries):
        temporary = entry.parent / f".tmp-k1lled{n:02d}.json"
        temporary.write_bytes(entry.read_bytes())
        os.utime(temporary, (hour_ago, hour_ago))
        entry.unlink()
        left.append(temporary)
    writing_now = entries[0].parent / ".tmp-wr1t1ng0.json"  # another run's write, going on now
    writing_now.write_bytes(b"{")
    outcomes = judged.run("--trainloop", "-k", "is_polite", *workers).parseoutcomes()
    assert (outcomes["passed"], outcomes["failed"]) == (3, 3)
    assert len(judge_server.requests) == calls * 2  # no temporary file was taken for an entry
    assert all(entry.exists() for entry in entries)
    assert not any(temporary.exists() for temporary in left)
    assert writing_now.exists()


@pytest.mark.parametrize("workers", [[], ["-n2"]], ids=["serial", "-n2"])
def test_a_cache_entry_without_an_answer_is_asked_again_with_a_warning_naming_it(
    judged: Project, judge_server: JudgeServer, workers: list[str]
) -> None:
    judged.run("--trainloop", "-k", "is_polite")
    calls = len(judge_server.requests)
    entry = sorted((judged.data / "judge_cache").rglob("*.json"))[0]
    recorded = entry.read_bytes()
    entry.write_text("{}")  # valid JSON, but no answer
    result = judged.run("--trainloop", "-k", "is_polite", *WARN, *workers)
    outcomes = result.parseoutcomes()
    assert (outcomes["passed"], outcomes["failed"]) == (3, 3)
    result.stdout.fnmatch_lines([f"*TrainloopWarning: judge cache entry {entry} holds no answer*"])
    assert len(judge_server.requests) == calls + 1
    assert entry.read_bytes() == recorded  # rewritten: the next run asks nothing
    judged.run("--trainloop", "-k", "is_polite", "-W", "error::pytest_trainloop.TrainloopWarning")
    assert len(judge_server.requests) == calls + 1


def test_an_abstaining_judge_makes_the_case_an_error(judged: Project) -> None:
    judged.run("--trainloop", "--trainloop-judge-models", "openai/yes-man", "-k", "is_polite")
    metric = judged.results()["suites"]["support"]["metrics"]["is_polite"]
    assert metric["errors"] == 6
    assert "the judge abstained" in metric["details"][0]["reason"]


def test_four_workers_fill_one_cache_without_losing_or_corrupting_an_answer(
    project: Project, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(40)])
    (project.path / "trainloop.config.yaml").write_text(CONFIG)
    project.metrics(
        METRICS.split(
            '@pytest.mark.trainloop_suite("support", tags=["t"])\ndef module_level_judge'
        )[0]
    )
    project.run("--trainloop", "-n4").assert_outcomes(passed=40)
    files = [p for p in (project.data / "judge_cache").rglob("*") if p.is_file()]
    assert len(files) == 40 * 2 * 2  # events x models x (claim, negation)
    assert all(orjson.loads(p.read_bytes())["answer"] for p in files)
    assert not [p for p in files if p.name.startswith(".tmp")]
    calls = len(judge_server.requests)
    assert calls == 160
    result = project.run("--trainloop", "-n4", "--trainloop-judge-cache", "replay")
    result.assert_outcomes(passed=40)
    assert len(judge_server.requests) == calls


NO_JUDGE_METRIC = """
import pytest

@pytest.mark.trainloop_suite("support", tags=["t"])
def is_short(event):
    return len(event.response) < 100
"""

BAD_JUDGE_OPTIONS = [
    ("judge_cache", "bogus", "judge cache must be one of use, refresh, off, replay, got 'bogus'"),
    ("judge_models", "gpt-4o", "judge model 'gpt-4o' must be 'openai/<model>' or *"),
    ("judge_models", ",", "judge models must be a non-empty list, got []"),
    ("judge_calls", "0", "judge calls_per_model_per_claim must be a whole number >= 1, got 0"),
]


@pytest.fixture
def unjudged(project: Project) -> Project:
    """A project whose run asks no judge: its judge settings are checked all the same."""
    project.events([documented_event("e1", tags=["t"])])
    project.metrics(NO_JUDGE_METRIC)
    return project


@pytest.mark.parametrize(("name", "value", "message"), BAD_JUDGE_OPTIONS)
def test_a_bad_judge_option_is_a_usage_error_at_start_up_naming_the_flag(
    unjudged: Project, name: str, value: str, message: str
) -> None:
    flag = "--trainloop-" + name.replace("_", "-")
    result = unjudged.run("--trainloop", f"{flag}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message} (from {flag})"])


@pytest.mark.parametrize(("name", "value", "message"), BAD_JUDGE_OPTIONS)
def test_a_bad_judge_option_is_a_usage_error_at_start_up_naming_the_ini_key(
    unjudged: Project, name: str, value: str, message: str
) -> None:
    unjudged.pytester.makeini(INI + f"trainloop_{name} = {value}\n")
    result = unjudged.run("--trainloop")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message} (from the trainloop_{name} ini key)"])


def test_a_bad_judge_setting_in_the_config_file_is_a_usage_error_naming_the_file(
    unjudged: Project,
) -> None:
    (unjudged.path / "trainloop.config.yaml").write_text(CONFIG + "    temperature: 9\n")
    result = unjudged.run("--trainloop")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: judge temperature must be a number in [[]0.0, 2.0], got 9 (from 'judge:' in *"]
    )
    # An option that overrides the file's bad value is not blamed on the file, and vice versa.
    (unjudged.path / "trainloop.config.yaml").write_text(CONFIG + "    cache: sometimes\n")
    unjudged.run("--trainloop", "--trainloop-judge-cache=off").assert_outcomes(passed=1)
    result = unjudged.run("--trainloop", "--trainloop-judge-calls=2")
    result.stderr.fnmatch_lines(["ERROR: judge cache must be one of *(from 'judge:' in *"])


def test_batch_mode_reports_the_same_verdicts_votes_and_judge_usage(judged: Project) -> None:
    # In the file, not on the command line: the module-level judge reads only the file.
    (judged.path / "trainloop.config.yaml").write_text(CONFIG + '    cache: "off"\n')
    judged.run("--trainloop")
    per_case = judged.results()
    judged.run("--trainloop", "--trainloop-batch", "--trainloop-batch-size", "4")
    batch = judged.results()
    assert batch["suites"] == per_case["suites"]
    assert batch["judge_usage"] == per_case["judge_usage"]


ASYNC_JUDGE_METRIC = """
import pytest

@pytest.mark.trainloop_suite("support", tags=["t"])
async def is_polite(event, trainloop_judge):
    mark = "[true]" if "Hello" in event.response else ""
    return await trainloop_judge.assert_true_async(f"The reply {event.id} is polite {mark}")
"""


def test_in_batch_mode_an_async_judge_metric_has_many_verdicts_in_flight(
    judged: Project, judge_server: JudgeServer
) -> None:
    # Each verdict asks 2 slow models about a claim and its negation: 4 calls at once. Events
    # one by one never have more than one verdict's 4 calls at the server.
    (judged.path / "trainloop.config.yaml").write_text(
        CONFIG.replace("/truthful", "/slow:100") + '    cache: "off"\n'
    )
    judged.metrics(ASYNC_JUDGE_METRIC)
    judged.run("--trainloop").assert_outcomes(passed=3, failed=3)
    per_case = judged.results()["suites"]
    assert judge_server.max_in_flight == 4
    judged.run("--trainloop", "--trainloop-batch").assert_outcomes(failed=1)
    assert judged.results()["suites"] == per_case
    assert judge_server.max_in_flight > 4  # 6 verdicts x 4 calls, at most 16 (the judge's bound)
    judge_server.max_in_flight = 0
    judged.run("--trainloop", "--trainloop-batch", "--trainloop-batch-concurrency", "1")
    assert judged.results()["suites"] == per_case
    assert judge_server.max_in_flight == 4


@pytest.mark.parametrize("batch", [[], ["--trainloop-batch"]], ids=["per-case", "batch"])
def test_a_failing_async_judge_call_is_each_events_error_and_shows_no_key(
    judged: Project, batch: list[str]
) -> None:
    judged.metrics(ASYNC_JUDGE_METRIC)
    result = judged.run(
        "--trainloop", "--trainloop-judge-models", "openai/status:500:0", "-l", "--tb=long", *batch
    )
    metric = judged.results()["suites"]["support"]["metrics"]["is_polite"]
    assert (metric["errors"], metric["total"]) == (6, 6)
    assert {d["reason"] for d in metric["details"]} == {
        "JudgeCallError: openai/status:500:0: HTTP 500 after 2 attempt(s)"
    }
    result.stdout.fnmatch_lines(
        ["*JudgeCallError: openai/status:500:0: HTTP 500 after 2 attempt(s)"]
    )
    assert "sk-test-openai-secret" not in result.stdout.str()


KEYS = ("sk-test-openai-secret", "sk-ant-test-secret")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("batch", [[], ["--trainloop-batch"]], ids=["per-case", "batch"])
def test_a_key_the_provider_echoes_in_its_error_is_written_nowhere(
    judged: Project, provider: str, batch: list[str]
) -> None:
    # Both metrics: the fixture's judge and the module-level one, which reads only the file.
    (judged.path / "trainloop.config.yaml").write_text(
        CONFIG.replace("[openai/truthful, anthropic/truthful]", f"[{provider}/reject-key]")
    )
    junit = judged.path / "junit.xml"
    result = judged.run("--trainloop", "-vv", "--tb=long", "-l", f"--junitxml={junit}", *batch)
    written = everything_written(judged, result, junit)
    for where, text in written.items():
        for key in KEYS:
            assert text.count(key) == 0, f"{key} in the {where}"
            assert key[:12] not in text, f"a prefix of {key} in the {where}"
    # Still useful: the model, the status, the provider's error type and message.
    reason = the_one_reason(judged)
    assert reason.startswith(f"JudgeCallError: {provider}/reject-key: HTTP 401")
    error_type = "authentication_error" if provider == "anthropic" else "invalid_request_error"
    assert error_type in reason
    assert "Incorrect API key provided: sk-" in reason
    assert f"{provider}/reject-key: HTTP 401" in written["terminal"]
    assert "Incorrect API key provided" in written["terminal"]
    assert "Incorrect API key provided" in written["junit"]


@pytest.mark.parametrize("batch", [[], ["--trainloop-batch"]], ids=["per-case", "batch"])
def test_no_frame_of_a_traceback_holds_a_key_not_even_with_full_trace(
    judged: Project, batch: list[str]
) -> None:
    # --full-trace shows every frame, our hidden ones too, each with its locals.
    (judged.path / "trainloop.config.yaml").write_text(
        CONFIG.replace("[openai/truthful, anthropic/truthful]", "[openai/reject-key]")
    )
    result = judged.run("--trainloop", "--tb=long", "-l", "--full-trace", *batch)
    output = result.stdout.str() + result.stderr.str()
    assert "JudgeCallError: openai/reject-key: HTTP 401" in output
    assert "sk-test-" not in output


PASSWORD = "Tr0ub4dor-proxy-pass"  # of the login a base URL carries: `user:password@host`


@pytest.mark.parametrize("where", ["env", "config"])
@pytest.mark.parametrize(
    "mode", [[], ["--trainloop-batch"], ["-n2"]], ids=["per-case", "batch", "-n2"]
)
def test_a_password_in_the_judge_base_url_is_written_nowhere(
    judged: Project,
    judge_server: JudgeServer,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    mode: list[str],
) -> None:
    # A proxy in front of the model server that takes a login in the URL, refuses it, and
    # echoes it back: whole, inside the URL, and as the Basic header's base64.
    url = judge_server.url.replace("http://", f"http://proxy-user:{PASSWORD}@") + "/v1"
    config = CONFIG.replace("[openai/truthful, anthropic/truthful]", "[openai/reject-login]")
    if where == "env":
        monkeypatch.setenv("OPENAI_BASE_URL", url)
    else:
        monkeypatch.delenv("OPENAI_BASE_URL")
        config += f"    base_urls:\n      openai: {url}\n"
    (judged.path / "trainloop.config.yaml").write_text(config)
    junit = judged.path / "junit.xml"
    result = judged.run(
        "--trainloop", "-vv", "--tb=long", "-l", "--full-trace", f"--junitxml={junit}", *mode
    )
    login = base64.b64encode(f"proxy-user:{PASSWORD}".encode()).decode()
    assert judge_server.requests[0]["headers"]["Authorization"] == f"Basic {login}"  # sent
    written = everything_written(judged, result, junit)
    for name, text in written.items():
        assert PASSWORD[:8] not in text, f"the password in the {name}"
        assert login[:12] not in text, f"the password, in base64, in the {name}"
    # Still useful: who was refused where, and what the proxy said.
    reason = the_one_reason(judged)
    assert reason.startswith("JudgeCallError: openai/reject-login: HTTP 401")
    assert "proxy_error: proxy login proxy-user:" in reason
    assert f"{judge_server.url.replace('http://', 'http://proxy-user:[redacted]@')}/v1" in reason
    assert "proxy login proxy-user:" in written["junit"]

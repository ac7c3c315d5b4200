"""The judge against a real HTTP server on 127.0.0.1: parsing, voting, retries, cache, keys."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from pytest_trainloop import TrainloopWarning
from pytest_trainloop.judge import (
    ConfigFileError,
    Judge,
    JudgeAbstainedError,
    JudgeCacheMissError,
    JudgeCallError,
    JudgeConfig,
    JudgeConfigError,
    from_config_file,
    load_env_file,
    negate,
    parse_answer,
)
from tests.judge_server import JudgeServer

TRUE_CLAIM = "The reply greets the customer [true]"
FALSE_CLAIM = "The reply promises a refund"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("<reasoning>ok</reasoning><result>true</result>", True),
        ("<result> TRUE </result>", True),
        ("<result>yes</result>", True),
        ("<result>false</result>", False),
        ("<result>no</result>", False),
        ("<result>incorrect</result>", None),
        ("<result>not true</result>", None),
        ("<result>untrue</result>", None),
        ("<result>I don't know</result>", None),
        ("", None),
        ("true", None),  # no element: nothing is read by substring
        ("The answer is true.", None),
        ("<result>true</result> ... <result>false</result>", None),
        ("<result>true or false</result>", None),
        ("<result></result>", None),
    ],
)
def test_only_an_exact_result_element_is_read(reply: str, expected: bool | None) -> None:
    assert parse_answer(reply) is expected


def judge_for(tmp_path: Path, *models: str, **changes: object) -> Judge:
    options: dict[str, object] = {"calls_per_model_per_claim": 3, "backoff": 0.01, **changes}
    config = replace(JudgeConfig(), models=models, cache_folder=tmp_path / "cache", **options)  # type: ignore[arg-type]
    return made(Judge(config))


def made(judge: Judge) -> Judge:
    """`judge`, closed after the test."""
    _made.append(judge)
    return judge


_made: list[Judge] = []


@pytest.fixture(autouse=True)
def _close_judges() -> Iterator[None]:
    """Each judge runs an engine thread with an HTTP client: stop them after each test."""
    yield
    while _made:
        _made.pop().close()


def test_a_truthful_panel_passes_a_true_claim_and_fails_a_false_one(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    judge = judge_for(tmp_path, "openai/truthful", "anthropic/truthful")
    yes = judge.assert_true(TRUE_CLAIM)
    assert yes
    assert yes.agreement == 1.0
    assert [(v.model, v.value) for v in yes.votes] == [("openai/truthful", True)] * 3 + [
        ("anthropic/truthful", True)
    ] * 3
    assert not judge.assert_true(FALSE_CLAIM)
    assert len(judge_server.requests) == 24  # 2 claims x 2 models x 3 samples x (claim, negation)
    assert yes.usage["openai/truthful"].calls == 6
    assert yes.usage["anthropic/truthful"].completion_tokens == 6 * 12


def test_each_protocol_is_spoken_with_its_own_headers(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    judge_for(
        tmp_path, "openai/truthful", "anthropic/truthful", calls_per_model_per_claim=1
    ).assert_true(TRUE_CLAIM)
    by_path = {r["path"]: r for r in judge_server.requests}
    openai, anthropic = by_path["/v1/chat/completions"], by_path["/v1/messages"]
    assert openai["headers"]["authorization"] == "Bearer sk-test-openai-secret"
    assert openai["body"]["model"] == "truthful"
    assert anthropic["headers"]["x-api-key"] == "sk-ant-test-secret"
    assert anthropic["headers"]["anthropic-version"] == "2023-06-01"
    assert anthropic["body"]["max_tokens"] > 0


def test_the_negation_is_asked_too_and_derived_by_the_documented_rule(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    judge_for(tmp_path, "openai/truthful", calls_per_model_per_claim=1).assert_true(TRUE_CLAIM)
    prompts = [r["body"]["messages"][0]["content"] for r in judge_server.requests]
    assert any(negate(TRUE_CLAIM) in p for p in prompts)
    judge_for(tmp_path, "openai/truthful", calls_per_model_per_claim=1).assert_true(
        TRUE_CLAIM, "The reply ignores the customer"
    )
    assert (
        "The reply ignores the customer"
        in judge_server.requests[-1]["body"]["messages"][0]["content"]
        + judge_server.requests[-2]["body"]["messages"][0]["content"]
    )


def test_a_tie_fails(tmp_path: Path, judge_server: JudgeServer) -> None:
    verdict = judge_for(tmp_path, "openai/truthful", "openai/contrarian").assert_true(TRUE_CLAIM)
    assert not verdict
    assert verdict.score == 0.5


def test_inconsistent_pairs_are_dropped_and_the_rest_decides(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    verdict = judge_for(tmp_path, "openai/truthful", "openai/yes-man").assert_true(FALSE_CLAIM)
    assert not verdict  # yes-man's pairs say yes to both and are dropped
    assert [v.value for v in verdict.votes if v.model == "openai/yes-man"] == [None] * 3


@pytest.mark.parametrize(
    "model",
    [
        "openai/yes-man",
        "openai/say:incorrect",
        "openai/say:",
        "openai/raw:true",
        "anthropic/say:maybe",
    ],
)
def test_when_every_answer_is_dropped_the_judge_abstains_with_an_error(
    tmp_path: Path, judge_server: JudgeServer, model: str
) -> None:
    with pytest.raises(JudgeAbstainedError, match="the judge abstained"):
        judge_for(tmp_path, model).assert_true(TRUE_CLAIM)


def test_429_is_retried_after_its_retry_after(tmp_path: Path, judge_server: JudgeServer) -> None:
    verdict = judge_for(
        tmp_path, "openai/status:429:2", calls_per_model_per_claim=1, max_retries=3
    ).assert_true(TRUE_CLAIM)
    assert verdict
    assert judge_server.seen["status:429:2"] == 4  # two 429s, then the two answers


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("openai/status:500:0", r"openai/status:500:0: HTTP 500 after 3 attempt\(s\)"),
        ("anthropic/status:429:0", r"anthropic/status:429:0: HTTP 429 after 3 attempt\(s\)"),
        ("openai/status:401:0", r"openai/status:401:0: HTTP 401 after 1 attempt\(s\)"),
        ("openai/malformed", r"openai/malformed: malformed response body"),
    ],
)
def test_a_call_that_keeps_failing_names_model_status_and_attempts(
    tmp_path: Path, judge_server: JudgeServer, model: str, message: str
) -> None:
    judge = judge_for(tmp_path, model, calls_per_model_per_claim=1, max_retries=2)
    with pytest.raises(JudgeCallError, match=message):
        judge.assert_true(TRUE_CLAIM)


def test_a_timeout_is_retried_then_reported(tmp_path: Path, judge_server: JudgeServer) -> None:
    judge = judge_for(
        tmp_path, "openai/slow:400", calls_per_model_per_claim=1, timeout=0.05, max_retries=1
    )
    with pytest.raises(JudgeCallError, match=r"openai/slow:400: timed out after 2 attempt\(s\)"):
        judge.assert_true(TRUE_CLAIM)


def test_calls_of_one_verdict_run_concurrently_within_the_bound(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    judge_for(tmp_path, "openai/slow:100", "anthropic/slow:100", concurrency=5).assert_true(
        TRUE_CLAIM
    )
    assert 2 <= judge_server.max_in_flight <= 5


def test_the_cache_makes_a_second_verdict_free_and_replays_offline(
    tmp_path: Path, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = judge_for(tmp_path, "openai/truthful", "anthropic/truthful").assert_true(TRUE_CLAIM)
    calls = len(judge_server.requests)
    again = judge_for(tmp_path, "openai/truthful", "anthropic/truthful").assert_true(TRUE_CLAIM)
    assert len(judge_server.requests) == calls
    assert again.usage["openai/truthful"].cache_hits == 6
    assert again.usage["openai/truthful"].calls == 0
    assert [v.value for v in again.votes] == [v.value for v in first.votes]
    # Replay: no key, a base URL where nothing listens: the cache alone answers.
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    replayed = judge_for(
        tmp_path, "openai/truthful", "anthropic/truthful", cache_mode="replay"
    ).assert_true(TRUE_CLAIM)
    assert replayed
    with pytest.raises(
        JudgeCacheMissError, match=r"no recorded answer from openai/truthful.*promises a refund"
    ):
        judge_for(tmp_path, "openai/truthful", cache_mode="replay").assert_true(FALSE_CLAIM)


@pytest.mark.parametrize(
    "damaged", [b"{}", b'{"answer": null}', b"[]", b'{"answer": "<result>tr'], ids=repr
)
def test_a_damaged_cache_entry_is_asked_again_rewritten_and_named_in_a_warning(
    tmp_path: Path, judge_server: JudgeServer, damaged: bytes
) -> None:
    judge_for(tmp_path, "openai/truthful", calls_per_model_per_claim=1).assert_true(TRUE_CLAIM)
    entry, _ = sorted((tmp_path / "cache").rglob("*.json"))  # the claim's, the negation's
    recorded = entry.read_bytes()
    entry.write_bytes(damaged)
    again = judge_for(tmp_path, "openai/truthful", calls_per_model_per_claim=1)
    with pytest.warns(TrainloopWarning) as warned:
        verdict = again.assert_true(TRUE_CLAIM)
    assert verdict
    [warning] = warned
    assert str(entry) in str(warning.message)
    assert "asked again" in str(warning.message)
    assert again.usage["openai/truthful"].calls == 1  # the damaged entry, asked again
    assert again.usage["openai/truthful"].cache_hits == 1
    assert entry.read_bytes() == recorded


def test_a_damaged_cache_entry_in_replay_mode_is_named_then_a_miss(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    judge_for(tmp_path, "openai/truthful", calls_per_model_per_claim=1).assert_true(TRUE_CLAIM)
    entry = sorted((tmp_path / "cache").rglob("*.json"))[0]
    entry.write_bytes(b"{}")
    replay = judge_for(
        tmp_path, "openai/truthful", calls_per_model_per_claim=1, cache_mode="replay"
    )
    with (
        pytest.warns(TrainloopWarning, match="replay mode cannot ask again"),
        pytest.raises(JudgeCacheMissError),
    ):
        replay.assert_true(TRUE_CLAIM)


# Killed between writing an entry's temporary file and renaming it into place: the kill comes
# from the process itself at that moment, which a signal from outside could not aim at.
KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from pytest_trainloop.judge import Judge, JudgeConfig

os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
config = JudgeConfig(
    models=("openai/truthful",), calls_per_model_per_claim=1, cache_folder=Path(sys.argv[1])
)
Judge(config).assert_true(sys.argv[2])
"""


def test_an_entry_a_killed_write_left_as_a_temporary_file_is_asked_again_and_the_file_removed(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    cache = tmp_path / "cache"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(cache), TRUE_CLAIM], capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [left] = [path for path in cache.rglob("*") if path.is_file()]
    assert left.name.startswith(".tmp-") and orjson.loads(left.read_bytes())["answer"]
    hour_ago = time.time() - 2 * 3600  # past STALE_AFTER
    os.utime(left, (hour_ago, hour_ago))
    writing_now = left.parent / ".tmp-wr1t1ng0.json"  # another process's write, going on now
    writing_now.write_bytes(b'{"answer": "<result>tr')
    again = judge_for(tmp_path, "openai/truthful", calls_per_model_per_claim=1)
    assert again.assert_true(TRUE_CLAIM)
    # The temporary file was no entry: both answers were asked, and both are entries now.
    usage = again.usage["openai/truthful"]
    assert (usage.calls, usage.cache_hits) == (2, 0)
    assert not left.exists()
    assert writing_now.exists()
    entries = sorted(path.name for path in cache.rglob("*.json") if path != writing_now)
    assert len(entries) == 2 and not any(name.startswith(".") for name in entries)


def test_refresh_asks_again_and_off_keeps_nothing(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    judge_for(tmp_path, "openai/truthful").assert_true(TRUE_CLAIM)
    judge_for(tmp_path, "openai/truthful", cache_mode="refresh").assert_true(TRUE_CLAIM)
    assert len(judge_server.requests) == 12
    off = tmp_path / "off"
    Judge(
        replace(JudgeConfig(), models=("openai/truthful",), cache_folder=off, cache_mode="off")
    ).assert_true(TRUE_CLAIM)
    assert not off.exists()


def test_keys_never_reach_the_cache_or_an_error_message(
    tmp_path: Path, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    judge_for(tmp_path, "openai/truthful", "anthropic/truthful").assert_true(TRUE_CLAIM)
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "sk-test-openai-secret" not in text
            assert "sk-ant-test-secret" not in text
    with pytest.raises(JudgeCallError) as failed:
        judge_for(tmp_path, "openai/status:401:0", max_retries=0).assert_true(FALSE_CLAIM)
    assert "secret" not in str(failed.value)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(
        JudgeCallError, match="no API key for the anthropic judge: set ANTHROPIC_API_KEY"
    ):
        judge_for(tmp_path, "anthropic/other").assert_true(FALSE_CLAIM)


def test_an_env_file_fills_only_unset_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text('# keys\nexport OPENAI_API_KEY="from-file"\nTRAINLOOP_X=1\n')
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    monkeypatch.delenv("TRAINLOOP_X", raising=False)
    load_env_file(env)
    import os

    assert os.environ["OPENAI_API_KEY"] == "from-env"
    assert os.environ["TRAINLOOP_X"] == "1"
    monkeypatch.delenv("TRAINLOOP_X")


def test_a_credential_of_the_env_file_is_masked_even_when_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_trainloop.redact import redact

    env = tmp_path / ".env"
    env.write_text("OTHER_API_KEY=sk-from-the-file-only\nJUDGE_REGION=eu-west-1-long\n")
    monkeypatch.setenv("OTHER_API_KEY", "sk-from-the-environment")
    monkeypatch.setenv("JUDGE_REGION", "us")
    load_env_file(env)
    text = "sk-from-the-file-only in eu-west-1-long"
    assert redact(text) == "sk-f…[redacted] in eu-west-1-long"


def test_a_judge_reads_its_key_from_its_env_file(
    tmp_path: Path, judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    env = tmp_path / ".env"
    env.write_text("OPENAI_API_KEY=from-env-file\n")
    assert judge_for(tmp_path, "openai/truthful", env_path=env).assert_true(TRUE_CLAIM)
    assert judge_server.requests[0]["headers"]["authorization"] == "Bearer from-env-file"


def test_the_async_twin_works_inside_a_running_loop_and_the_sync_one_says_why_not(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    judge = judge_for(tmp_path, "openai/truthful")

    async def inside() -> bool:
        with pytest.raises(RuntimeError, match=r"use `await judge\.assert_true_async"):
            judge.assert_true(TRUE_CLAIM)
        both = await asyncio.gather(
            judge.assert_true_async(TRUE_CLAIM), judge.assert_true_async(FALSE_CLAIM)
        )
        return bool(both[0]) and not both[1]

    assert asyncio.run(inside())


def test_a_bare_yaml_off_turns_the_cache_off(tmp_path: Path) -> None:
    import yaml

    mapping = yaml.safe_load("cache: off")
    assert JudgeConfig.from_mapping(mapping, tmp_path, tmp_path).cache_mode == "off"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"models": ["gpt-4o"]}, "must be 'openai/<model>' or 'anthropic/<model>'"),
        ({"calls_per_model_per_claim": 0}, "calls_per_model_per_claim must be a whole number >= 1"),
        ({"temperature": 3}, r"temperature must be a number in \[0.0, 2.0\]"),
        ({"template": "no placeholder"}, "must be a string containing {claim}"),
        ({"cache": "sometimes"}, "cache must be one of use, refresh, off, replay"),
        ({"colour": "red"}, "unknown judge setting"),
    ],
)
def test_bad_judge_settings_name_what_is_allowed(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(JudgeConfigError, match=message):
        JudgeConfig.from_mapping(mapping, Path("."), Path("data"))


def test_outside_pytest_the_data_folder_follows_pytests_rule_the_variable_before_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("from_env", "from_file"):
        (tmp_path / folder).mkdir()
    (tmp_path / "trainloop.config.yaml").write_text("trainloop:\n  data_folder: from_file\n")
    monkeypatch.chdir(tmp_path)
    assert made(from_config_file()).config.cache_folder == tmp_path / "from_file" / "judge_cache"
    monkeypatch.setenv("TRAINLOOP_DATA_FOLDER", "from_env")
    assert made(from_config_file()).config.cache_folder == tmp_path / "from_env" / "judge_cache"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("trainloop: [unclosed\n", r".*trainloop\.config\.yaml is not valid YAML"),
        ("trainloop:\n  data_folder: nowhere\n", r"data_folder in .* names a folder that does not"),
        (
            "trainloop:\n  judge: [a, b]\n",
            r"'judge:' in .*trainloop\.config\.yaml must be a mapping",
        ),
    ],
)
def test_outside_pytest_a_bad_config_file_is_a_plain_error_naming_it(
    tmp_path: Path, config: str, message: str
) -> None:
    (tmp_path / "trainloop.config.yaml").write_text(config)
    with pytest.raises(ConfigFileError, match=message):
        from_config_file(tmp_path)


def test_httpx_and_asyncio_are_imported_only_when_a_judge_calls_out() -> None:
    import subprocess
    import sys

    # Settings.resolve checks the judge settings at every --trainloop start-up: importing the
    # judge costs no HTTP client and no event loop (asyncio and ssl, ~11 ms).
    probe = (
        "import sys, pytest_trainloop.plugin, pytest_trainloop.judge; "
        "print('httpx' in sys.modules, 'asyncio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


@pytest.mark.parametrize(
    ("raised", "problem"),
    [
        ("ReadTimeout", "timed out after 2 attempt(s)"),
        ("ConnectError", "connection error (ConnectError) after 2 attempt(s)"),
    ],
)
def test_a_transport_error_httpx_left_unmapped_is_still_a_judge_error(
    monkeypatch: pytest.MonkeyPatch, raised: str, problem: str
) -> None:
    # httpx maps httpcore's errors where it sends and reads, but a bare httpcore.ReadTimeout
    # escaped it twice in loaded full-suite runs: whatever the transport raises, a call ends
    # in our error, retried as httpx's own. The transport is the boundary replaced here.
    import httpcore
    import httpx

    from pytest_trainloop.judge.providers import Model, ask

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-0123456789")
    calls: list[str] = []

    def unmapped(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        raise getattr(httpcore, raised)("from the transport")

    async def one_answer() -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(unmapped)) as client:
            return await ask(
                client, Model("openai", "m"), "claim?", 0.0, "http://127.0.0.1:9/v1", None, 1, 0.0
            )

    with pytest.raises(JudgeCallError) as failed:
        asyncio.run(one_answer())
    assert str(failed.value) == f"openai/m: {problem}"
    assert len(calls) == 2

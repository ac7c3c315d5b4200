"""Masking the secrets the process knows: which variables hold them, and what is left shown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_trainloop import redact
from pytest_trainloop.redact import looks_like_credential, mask, register

KEY = "sk-proj-4f9a8b7c6d5e4f3a2b1c"


@pytest.fixture(autouse=True)
def no_registered_secrets() -> Iterator[None]:
    registered = set(redact._registered)
    redact._registered.clear()
    yield
    redact._registered.clear()
    redact._registered.update(registered)


@pytest.mark.parametrize(
    "name",
    [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "DJANGO_SECRET_KEY",
        "CLIENT_SECRET",
        "DB_PASSWORD",
        "PGPASSWORD",
        "AUTHORIZATION",
        "openai_api_key",
        "MYAPIKEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ],
)
def test_credential_names_are_recognised(name: str) -> None:
    assert looks_like_credential(name)


@pytest.mark.parametrize(
    "name", ["PATH", "HOME", "PWD", "OLDPWD", "SSH_AUTH_SOCK", "HOTKEY", "OPENAI_BASE_URL", "KEYS"]
)
def test_other_names_are_not(name: str) -> None:
    assert not looks_like_credential(name)


def test_a_secret_in_a_credential_variable_is_masked_wherever_it_appears(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    text = f'{{"message": "bad key {KEY}", "echo": "Bearer {KEY}"}}'
    assert redact.redact(text) == (
        '{"message": "bad key sk-p…[redacted]", "echo": "Bearer sk-p…[redacted]"}'
    )


def test_an_echoed_prefix_of_a_secret_is_masked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert redact.redact(f"your key starts {KEY[:12]}...") == "your key starts sk-p…[redacted]..."
    # Shorter than MIN_SECRET characters: too little to be worth masking, and common text.
    assert redact.redact(f"keys look like {KEY[:7]}") == f"keys look like {KEY[:7]}"


def test_a_short_secret_shows_none_of_its_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASSWORD", "hunter22")
    assert redact.redact("login hunter22 refused") == "login [redacted] refused"
    assert mask("hunter22") == "[redacted]"
    assert mask(KEY) == "sk-p…[redacted]"


def test_short_values_and_other_variables_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATURE_TOKEN", "on")  # too short to be a secret
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")
    text = "feature on at http://127.0.0.1:8080/v1"
    assert redact.redact(text) == text


def test_a_registered_secret_is_masked_whatever_variable_held_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    text = f"rejected {KEY}"
    assert redact.redact(text) == text
    register(KEY)
    register("short")  # not a secret: nothing to mask
    assert redact.redact(text) == "rejected sk-p…[redacted]"
    assert redact.redact("short") == "short"


def test_a_secret_inside_a_longer_one_does_not_unmask_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INNER_TOKEN", KEY[8:20])  # the longer secret is masked first, whole
    monkeypatch.setenv("OUTER_TOKEN", KEY)
    out = redact.redact(f"a {KEY} b {KEY[8:20]} c")
    assert out == "a sk-p…[redacted] b [redacted] c"


def test_keys_that_share_their_start_are_each_masked_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every OpenAI project key begins `sk-proj-`: masking one key's runs must not cut
    # another key short and leave the rest of it in plain sight.
    other = "sk-proj-zz99yy88xx77ww66vv55"
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("SECOND_OPENAI_API_KEY", other)
    out = redact.redact(f"{other} / {other[:14]} / {KEY}")
    assert out == "sk-p…[redacted] / sk-p…[redacted] / sk-p…[redacted]"

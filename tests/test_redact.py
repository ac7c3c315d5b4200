"""Masking the secrets the process knows: which variables hold them, and what is left shown."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pytest_trainloop import redact
from pytest_trainloop.redact import (
    looks_like_credential,
    mask,
    mask_url_logins,
    redacted_repr,
    register,
    register_url,
    url_passwords,
)

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
        "HF_TOKEN",
        "MY_SECRET",
        "API_SECRETS",
        "DB_PASS",
        "SMTP_PASS",
        "MYSQL_PWD",
        "GPG_PASSPHRASE",
        "GITHUB_PAT",
        "AZURE_STORAGE_CONNECTION_STRING",
    ],
)
def test_credential_names_are_recognised(name: str) -> None:
    assert looks_like_credential(name)


@pytest.mark.parametrize(
    "name",
    [
        "PATH",
        "HOME",
        "PWD",
        "OLDPWD",
        "SSH_AUTH_SOCK",
        "HOTKEY",
        "OPENAI_BASE_URL",
        "KEYS",
        "BYPASS",
        "COMPASS",
        "MAX_TOKENS",
        "PASSWORD_FILE",
    ],
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


# --- logins written into URLs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://me:pw@proxy.example/v1", "https://me:[redacted]@proxy.example/v1"),
        (
            "via http://u:s3cret@10.0.0.1:3128 failed",
            "via http://u:[redacted]@10.0.0.1:3128 failed",
        ),
        ("postgres://app:p@ss@db/x", "postgres://app:[redacted]@db/x"),  # a raw `@` in it
        ("simplecache::s3://key:sec@bucket/p", "simplecache::s3://key:[redacted]@bucket/p"),
        (
            '{"url": "ftp://a:b@h", "next": "ftp://c:d@i/"}',
            '{"url": "ftp://a:[redacted]@h", "next": "ftp://c:[redacted]@i/"}',
        ),
        (
            "http://127.0.0.1:8080/v1 and me@example.com",
            "http://127.0.0.1:8080/v1 and me@example.com",
        ),
        ("https://token@github.com/o/r", "https://token@github.com/o/r"),  # no password
        ("see http://h:80/a?next=http://x:y@z", "see http://h:80/a?next=http://x:[redacted]@z"),
    ],
)
def test_the_password_of_a_login_in_any_url_is_masked_the_rest_kept(text: str, shown: str) -> None:
    assert mask_url_logins(text) == shown
    assert redact.redact(text) == shown  # known to nobody, and short: masked all the same


def test_a_url_login_in_any_variable_masks_its_password_wherever_it_appears(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not a credential by its name: a proxy, a base URL, a database URL.
    monkeypatch.setenv("HTTPS_PROXY", "http://me:proxy-pass-123@proxy:3128")
    monkeypatch.setenv("DATABASE_URL", "postgres://app:p%40ss-word-9@db/app")
    text = "login me:proxy-pass-123 refused; app:p@ss-word-9 and app:p%40ss-word-9 too"
    assert (
        redact.redact(text) == "login me:[redacted] refused; app:[redacted] and app:[redacted] too"
    )


def test_a_short_url_password_is_masked_in_urls_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://me:pw1@proxy.example/v1")
    text = "https://me:pw1@proxy.example/v1 said pw1"  # too short to mask alone, as any secret
    assert redact.redact(text) == "https://me:[redacted]@proxy.example/v1 said pw1"


def test_a_registered_url_masks_its_password_alone_too() -> None:
    assert url_passwords("http://a:b%2Fc-long-pass@h http://d@e") == {
        "b%2Fc-long-pass",
        "b/c-long-pass",
    }
    register_url("s3://key-id:very-secret-key-1@bucket/prefix")
    register_url("http://127.0.0.1:9/v1")  # no login: nothing registered
    assert redact.redact("denied for very-secret-key-1") == "denied for very…[redacted]"
    assert redact._registered == {"very-secret-key-1"}


def test_a_url_variables_login_is_read_as_urllib_reads_it_quotes_and_tokens_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The scan of free text stops at a quote; a variable's value is one URL, parsed whole. A
    # login with no password is a token when long (`https://ghp_…@github.com`), else a name.
    monkeypatch.setenv("OPENAI_BASE_URL", "https://me:it'sMyPass99@proxy.example/v1")
    monkeypatch.setenv("GIT_REMOTE", "https://ghp_0123456789abcdefXYZ@github.com/o/r")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy-user@proxy:3128")
    text = "sent it'sMyPass99 and ghp_0123456789abcdefXYZ for proxy-user"
    assert redact.redact(text) == "sent [redacted] and ghp_…[redacted] for proxy-user"


def test_a_registered_url_with_a_token_for_its_user_masks_the_token() -> None:
    register_url("https://tok_abcdefghijklmnopqrst@proxy.example/v1")
    assert redact.redact("refused tok_abcdefghijklmnopqrst") == "refused tok_…[redacted]"


@dataclass(frozen=True)
class _Options:
    folder: str
    retries: int = 3


def test_a_redacted_repr_is_the_dataclass_repr_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    options = _Options(f"https://me:pw@h/{KEY}")
    assert (
        redacted_repr(options)
        == "_Options(folder='https://me:[redacted]@h/sk-p…[redacted]', retries=3)"
    )
    assert redacted_repr(_Options("data")) == repr(_Options("data"))


def test_a_long_untrusted_text_is_scanned_for_urls_in_linear_time() -> None:
    # An LLM's reply shown with -vv: each letter of a long word must not restart a scan to the
    # word's end (quadratic: minutes for this text).
    word = "a" * 300_000
    started = time.perf_counter()
    assert redact.redact(f"{word}://u:p@h {word}") == f"{word}://u:[redacted]@h {word}"
    assert time.perf_counter() - started < 2.0

"""Masking the secrets this process knows in any text we print or write.

The secrets are the values of environment variables whose names look like credentials
(`OPENAI_API_KEY`, `GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`, `PGPASSWORD`, `AUTHORIZATION`, ...)
the password of a login written into the URL any environment variable holds
(`HTTPS_PROXY=http://me:pw@proxy:3128`, `OPENAI_BASE_URL`, `DATABASE_URL`), whatever its name,
or its user name when it has no password and is long enough to be a token,
and whatever was registered with `register` or `register_url` (the judge registers every key
and login it sends and every credential its env file holds; a data folder's URL registers its
login). A value shorter than `MIN_SECRET` characters is not a secret (`true`, `1`, a port
number) and is left alone.

In any URL of the text, a login's password is masked whatever its length and whoever knows it:
`https://me:[redacted]@proxy.example/v1`, the user and the host still shown.

Wherever a secret appears, whole or as a prefix of at least `MIN_SECRET` characters (some
providers echo the start of a key they reject), it becomes `sk-p…[redacted]`: the secret's
first 4 characters, enough to tell which key it was (keys begin with a fixed `sk-`, `ghp_` ...),
never more; a secret shorter than 16 characters shows none of them, `[redacted]`.

Pure and at the bottom: imports nothing of ours, and no pytest.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from typing import Any
from urllib.parse import unquote, urlsplit

MIN_SECRET = 8  # characters: shorter values, and shorter echoed prefixes, are not masked
# A URL's login without a password (`https://ghp_…@github.com/o/r`) is a token from this length:
# a shorter one is a user's name, which messages need.
_TOKEN_AS_USER = 16
_SHOWN = 4  # characters of a secret kept in its mask, and only of a long secret
_SHOWN_FROM = 16  # the length from which a secret's first characters are shown
REDACTED = "[redacted]"

# The last word of the name says what it holds; `PASSWORD`, `TOKEN`, ... also glued to a
# prefix (`PGPASSWORD`). `PWD` only after an underscore (`MYSQL_PWD`): alone, or in `OLDPWD`,
# it is a working folder. `PASS` and `PAT` (a personal access token) as whole words: `DB_PASS`,
# not `BYPASS`.
_CREDENTIAL_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|KEY|ACCESS_KEY|CREDENTIALS?|AUTH|AUTHORIZATION|COOKIE|PASS|PAT"
    r"|CONNECTION_STRING)$"
    r"|_PWD$"
    r"|(?:TOKEN|SECRETS?|PASSWORD|PASSWD|PASSPHRASE|APIKEY)$",
    re.IGNORECASE,
)
# A login in a URL, `scheme://user:password@`: the password runs to the last `@` before the
# host's end, as urllib splits it (a password holding a raw `@`), and never past a quote,
# a space or a `/`, which no URL's login holds. A scheme of 32 characters at most: unbounded,
# each letter of a long word would be tried as a scheme's start to the word's end (text is
# untrusted, an LLM's reply too: a quadratic scan of it would stall the run).
_URL_LOGIN = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s/?#@:\"'<>\\]*:)([^\s/?#\"'<>\\]+)@")
_registered: set[str] = set()


@functools.cache  # a handful of names, asked again on every error reason
def looks_like_credential(name: str) -> bool:
    """Whether an environment variable of this name holds a credential, by its name."""
    return _CREDENTIAL_NAME.search(name) is not None


def register(secret: str) -> None:
    """Mask `secret` from now on in every text this process redacts (if it is long enough)."""
    if len(secret) >= MIN_SECRET:
        _registered.add(secret)


def url_passwords(text: str) -> set[str]:
    """The password of each login written into a URL of `text`, as written and, where it has
    `%` escapes, as sent (a server echoing it may show either)."""
    if "://" not in text:
        return set()
    written = {match[2] for match in _URL_LOGIN.finditer(text)}
    return written | {unquote(password) for password in written}


def url_secrets(url: str) -> set[str]:
    """The login's secrets of `url`, a value known to be one URL (a variable's, a setting's):
    `url_passwords`, and the login as urllib reads it: its password whatever characters it
    holds (the scan of free text stops at a quote), else a user name long enough to be a
    token; as written and as sent."""
    if "://" not in url:
        return set()
    found = url_passwords(url)
    try:
        parts = urlsplit(url.strip())
        password, user = parts.password, parts.username
    except ValueError:
        return found
    if password:
        secret = password
    elif user and len(user) >= _TOKEN_AS_USER and password is None:
        secret = user
    else:
        return found
    return found | {secret, unquote(secret)}


def register_url(url: str) -> None:
    """Mask from now on the login's secret of `url` (a setting we use), alone too: a server's
    error may repeat it outside the URL."""
    for secret in url_secrets(url):
        register(secret)


def mask_url_logins(text: str) -> str:
    """`text` with the password of every login in its URLs masked: `https://me:[redacted]@host`."""
    if "://" not in text:  # most texts: no URL, no regex scan
        return text
    return _URL_LOGIN.sub(rf"\1{REDACTED}@", text)


def mask(secret: str) -> str:
    """What a secret is replaced with: `sk-p…[redacted]`, or `[redacted]` if it is short."""
    if len(secret) >= _SHOWN_FROM:
        return f"{secret[:_SHOWN]}…{REDACTED}"
    return REDACTED


def secrets() -> set[str]:
    """Every secret known now; the environment is read on each call, so that a key set or
    changed during the run counts too."""
    found = set(_registered)
    for name, value in os.environ.items():
        if len(value) < MIN_SECRET:
            continue
        if looks_like_credential(name):
            found.add(value)
        found.update(p for p in url_secrets(value) if len(p) >= MIN_SECRET)
    return found


def redact(text: str) -> str:
    """`text` with every secret the process knows masked, whole or as a long prefix, and the
    password of every login in its URLs."""
    text = mask_url_logins(text)
    spans = sorted(span for secret in secrets() for span in _runs(text, secret))
    if not spans:  # the common case: one scan of the text per secret
        return text
    parts: list[str] = []
    done = 0
    start, end, secret = spans[0]
    # Runs of several secrets can overlap (keys share their start, `sk-proj-`...): each
    # stretch of overlapping runs is masked as one, or a run cut short by another's mask
    # would leave the rest of its secret in plain sight.
    for next_start, next_end, next_secret in [*spans[1:], (len(text) + 1, 0, "")]:
        if next_start < end:
            end = max(end, next_end)
            continue
        parts += [text[done:start], mask(secret)]
        done = end
        start, end, secret = next_start, next_end, next_secret
    parts.append(text[done:])
    return "".join(parts)


def _runs(text: str, secret: str) -> list[tuple[int, int, str]]:
    """Each stretch of text (start, end, secret) that repeats the start of `secret` for
    MIN_SECRET characters or more: the whole secret, or the prefix of it a provider echoed."""
    head = secret[:MIN_SECRET]
    runs = []
    at = text.find(head)
    while at >= 0:
        end = at + MIN_SECRET
        while end - at < len(secret) and end < len(text) and text[end] == secret[end - at]:
            end += 1
        runs.append((at, end, secret))
        at = text.find(head, at + 1)
    return runs


def redacted_repr(self: Any) -> str:
    """A dataclass's repr as `dataclass` writes it, every secret masked: `__repr__` of the
    settings that may hold one (a URL's login), which a traceback shows with `pytest -l`."""
    shown = (f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.repr)
    return redact(f"{type(self).__qualname__}({', '.join(shown)})")

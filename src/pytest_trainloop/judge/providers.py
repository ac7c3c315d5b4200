"""Asking one model one prompt over HTTP: OpenAI chat completions and Anthropic messages.

httpx and asyncio are imported only when a judge really calls out; nothing here runs at
pytest start-up. httpx is the `judge` extra, not a dependency of the plugin: it depends on
anyio, whose own pytest plugin every pytest run would then load, judge or not (measured by
`bench/inert.py`). Retries back off exponentially with jitter and honour `Retry-After`.

No key is ever a local variable of a frame that can end up in a traceback (think `pytest -l`):
the headers that carry it are built in the call that sends them, and a login written into a
base URL (`https://user:password@proxy/v1`) travels apart from the URL, in an httpx auth whose
repr shows nothing. Every key and login sent is registered with `redact`, and an error body is
redacted before it is kept.
"""

from __future__ import annotations

import base64
import os
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_trainloop.redact import redact, register, register_url

if TYPE_CHECKING:
    import httpx

DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}
KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
BASE_URL_VARIABLES = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}
_RETRY_AFTER_CAP = 60.0


JUDGE_EXTRA = "pip install 'pytest-trainloop[judge]'"


class JudgeCallError(Exception):
    """A call to a judge model failed for good (after its retries, or at once if not retryable)."""


class JudgeUnavailableError(ImportError):
    """The judge's HTTP client, httpx (the `judge` extra), cannot be imported."""


def require_http_client() -> None:
    """Raise `JudgeUnavailableError`, naming the extra to install, unless httpx imports."""
    __tracebackhide__ = True  # the error is the message: where it was raised says nothing
    try:
        import httpx  # noqa: F401
    except ImportError as exc:
        # The install line first: a case's reason shows the message's start only.
        raise JudgeUnavailableError(
            f"the LLM judge needs its extra: {JUDGE_EXTRA} (its HTTP client, httpx, cannot "
            f"be imported: {exc}; a judge whose cache is in replay mode needs no httpx)"
        ) from None


@dataclass(frozen=True)
class Model:
    """`openai/<model>` or `anthropic/<model>`, split."""

    provider: str
    name: str

    @classmethod
    def parse(cls, text: str) -> Model:
        provider, _, name = text.partition("/")
        if provider not in DEFAULT_BASE_URLS or not name:
            raise ValueError(
                f"judge model {text!r} must be 'openai/<model>' or 'anthropic/<model>'"
            )
        return cls(provider, name)

    def __str__(self) -> str:
        return f"{self.provider}/{self.name}"


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int


def api_key(provider: str) -> str:
    variable = KEY_VARIABLES[provider]
    key = os.environ.get(variable)
    if not key:
        raise JudgeCallError(f"no API key for the {provider} judge: set {variable}")
    register(key)  # masked in any text we write, whatever the variable's name
    return key


def base_url(provider: str, configured: dict[str, str]) -> tuple[str, httpx.Auth | None]:
    """The provider's API URL, without the login written into it if any, and the httpx auth
    that sends that login (as `Basic` credentials, as httpx sends a URL's own)."""
    url = (
        os.environ.get(BASE_URL_VARIABLES[provider])
        or configured.get(provider)
        or DEFAULT_BASE_URLS[provider]
    ).rstrip("/")
    if "@" not in url:
        return url, None
    import httpx

    parsed = httpx.URL(url)
    if not parsed.userinfo:
        return url, None
    register_url(url)
    # The header's base64 too: a proxy refusing the login may echo the header it was sent.
    register(base64.b64encode(f"{parsed.username}:{parsed.password}".encode()).decode())
    bare = str(parsed.copy_with(userinfo=b"")).rstrip("/")
    return bare, httpx.BasicAuth(parsed.username, parsed.password)


def _request(model: Model, prompt: str, temperature: float, url: str) -> tuple[str, dict[str, Any]]:
    """The endpoint and body of a call (its headers are `_headers`, built as it is sent)."""
    messages = [{"role": "user", "content": prompt}]
    if model.provider == "openai":
        body = {"model": model.name, "messages": messages, "temperature": temperature}
        return f"{url}/chat/completions", body
    body = {
        "model": model.name,
        "max_tokens": 1024,
        "messages": messages,
        "temperature": temperature,
    }
    return f"{url}/v1/messages", body


def _headers(provider: str) -> dict[str, str]:
    if provider == "openai":
        return {"authorization": f"Bearer {api_key('openai')}"}
    return {"x-api-key": api_key("anthropic"), "anthropic-version": "2023-06-01"}


def _reply(model: Model, data: Any) -> Reply:
    """The text and token counts of a response body; KeyError/TypeError if malformed."""
    if model.provider == "openai":
        text = data["choices"][0]["message"]["content"]
        usage = data.get("usage") or {}
        prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    else:
        text = "".join(b["text"] for b in data["content"] if b.get("type") == "text")
        usage = data.get("usage") or {}
        prompt, completion = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
    if not isinstance(text, str):
        raise TypeError("the reply's content is not text")
    return Reply(text, int(prompt or 0), int(completion or 0))


def _error_detail(response: httpx.Response) -> str:
    """The provider's error type and message (both protocols nest them under `error`), else
    the start of the body; every secret masked, before the text is cut, so that a cut cannot
    leave part of a key unmasked."""
    try:
        data = response.json()
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str):
        kind = error.get("type") if isinstance(error, dict) else None
        detail = f"{kind}: {message}" if isinstance(kind, str) else message
    else:
        detail = response.text
    return redact(detail)[:300]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return min(float(value), _RETRY_AFTER_CAP) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


async def ask(
    client: httpx.AsyncClient,
    model: Model,
    prompt: str,
    temperature: float,
    url: str,
    login: httpx.Auth | None,
    max_retries: int,
    backoff: float = 0.5,
) -> Reply:
    """One answer from `model` at `url` (logging in with `login`, if not None), retrying 429,
    5xx, timeouts and connection errors."""
    __tracebackhide__ = True  # a failed verdict's traceback ends in the user's metric
    import asyncio

    import httpcore
    import httpx

    # httpx maps httpcore's errors where it sends and reads, yet a bare httpcore.ReadTimeout
    # escaped it in loaded test runs: both kinds are caught, so a call always ends in our error.
    timeouts = (httpx.TimeoutException, httpcore.TimeoutException)
    transport_errors = (httpx.TransportError, httpcore.NetworkError, httpcore.ProtocolError)
    endpoint, body = _request(model, prompt, temperature, url)
    attempts = 0
    while True:
        attempts += 1
        delay: float | None = None
        try:
            # The headers, and the key in them, are no local of this frame.
            response = await client.post(
                endpoint,
                headers=_headers(model.provider),
                json=body,
                auth=login or httpx.USE_CLIENT_DEFAULT,
            )
        except timeouts:
            problem = "timed out"
        except transport_errors as exc:
            problem = f"connection error ({type(exc).__name__})"
        else:
            status = response.status_code
            if status == 200:
                try:
                    return _reply(model, response.json())
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    raise JudgeCallError(
                        f"{model}: malformed response body ({exc!r}) on attempt {attempts}"
                    ) from None
            problem = f"HTTP {status}"
            if status != 429 and status < 500:
                raise JudgeCallError(
                    f"{model}: {problem} after {attempts} attempt(s): {_error_detail(response)}"
                )
            delay = _retry_after(response)
        if attempts > max_retries:
            raise JudgeCallError(f"{model}: {problem} after {attempts} attempt(s)")
        if delay is None:
            delay = backoff * 2 ** (attempts - 1) * (1 + random.random() / 2)
        await asyncio.sleep(delay)

"""The judge's settings: the `judge:` mapping of trainloop.config.yaml, checked, with defaults.

Light on purpose: `Settings.resolve` checks these at every `--trainloop` start-up, so nothing
here imports asyncio or httpx.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pytest_trainloop.judge.cache import MODES
from pytest_trainloop.judge.panel import DEFAULT_TEMPLATE
from pytest_trainloop.judge.providers import Model
from pytest_trainloop.redact import redacted_repr


class JudgeConfigError(ValueError):
    """A judge setting is wrong; the message names it and what is allowed, and `setting` is
    its key in the `judge:` mapping (None for the mapping as a whole)."""

    def __init__(self, message: str, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


def _positive_int(mapping: dict[str, Any], key: str, minimum: int) -> int | None:
    value = mapping.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise JudgeConfigError(
            f"judge {key} must be a whole number >= {minimum}, got {value!r}", key
        )
    return value


def _number(mapping: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = mapping.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise JudgeConfigError(
            f"judge {key} must be a number in [{low}, {high}], got {value!r}", key
        )
    return float(value)


@dataclass(frozen=True)
class JudgeConfig:
    """How a judge asks: the `judge:` mapping of trainloop.config.yaml, with defaults."""

    models: tuple[str, ...] = ("openai/gpt-4o-mini",)
    calls_per_model_per_claim: int = 3
    temperature: float = 0.7
    template: str = DEFAULT_TEMPLATE
    concurrency: int = 16
    timeout: float = 60.0
    max_retries: int = 3
    backoff: float = 0.5  # seconds before the first retry; doubled each time, plus jitter
    cache_folder: Path = Path("data") / "judge_cache"
    cache_mode: str = "use"
    base_urls: dict[str, str] = field(default_factory=dict)  # a URL may hold a login
    env_path: Path | None = None

    __repr__ = redacted_repr

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any], base: Path, data_folder: Path) -> JudgeConfig:
        """Read a `judge:` mapping; relative paths are relative to `base` (the config file's)."""
        if not isinstance(mapping, dict):
            raise JudgeConfigError("'judge:' must be a mapping")
        known = {
            "models",
            "calls_per_model_per_claim",
            "temperature",
            "template",
            "concurrency",
            "timeout",
            "max_retries",
            "backoff",
            "env_path",
            "cache",
            "cache_folder",
            "base_urls",
        }
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise JudgeConfigError(
                f"unknown judge setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        changes: dict[str, Any] = {"cache_folder": data_folder / "judge_cache"}
        models = mapping.get("models")
        if models is not None:
            if not isinstance(models, list) or not models:
                raise JudgeConfigError(
                    f"judge models must be a non-empty list, got {models!r}", "models"
                )
            for model in models:
                try:
                    Model.parse(str(model))
                except ValueError as exc:
                    raise JudgeConfigError(str(exc), "models") from None
            changes["models"] = tuple(str(m) for m in models)
        for key, minimum in (
            ("calls_per_model_per_claim", 1),
            ("concurrency", 1),
            ("max_retries", 0),
        ):
            value = _positive_int(mapping, key, minimum)
            if value is not None:
                changes[key] = value
        for key, low, high in (
            ("temperature", 0.0, 2.0),
            ("timeout", 0.001, 3600.0),
            ("backoff", 0.0, 60.0),
        ):
            number = _number(mapping, key, low, high)
            if number is not None:
                changes[key] = number
        template = mapping.get("template")
        if template is not None:
            if not isinstance(template, str) or "{claim}" not in template:
                raise JudgeConfigError(
                    "judge template must be a string containing {claim}", "template"
                )
            changes["template"] = template
        mode = mapping.get("cache")
        if isinstance(mode, bool):  # YAML reads a bare `off` as false (and `on` as true)
            mode = "use" if mode else "off"
        if mode is not None:
            if mode not in MODES:
                raise JudgeConfigError(
                    f"judge cache must be one of {', '.join(MODES)}, got {mode!r}", "cache"
                )
            changes["cache_mode"] = mode
        for key in ("cache_folder", "env_path"):
            if mapping.get(key) is not None:
                changes[key] = base / str(mapping[key])
        urls = mapping.get("base_urls")
        if urls is not None:
            if not isinstance(urls, dict) or not all(isinstance(v, str) for v in urls.values()):
                raise JudgeConfigError(
                    "judge base_urls must map openai/anthropic to URLs", "base_urls"
                )
            changes["base_urls"] = dict(urls)
        return replace(cls(), **changes)

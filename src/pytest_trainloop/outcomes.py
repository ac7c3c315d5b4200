"""A metric's return value, turned into the outcome of its case (records.py carries outcomes
to the process that aggregates them)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from pytest_trainloop.redact import redact

Kind = Literal["passed", "failed", "error"]

ALLOWED_RETURNS = (
    "None, True/False, 0/1, a float score in [0, 1], (verdict, reason) "
    "or a pytest_trainloop.Verdict"
)
# " at 0x7f89..." in a repr such as `<function search at 0x7f89...>`: an address, new each run.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def stable_reason(text: str) -> str:
    """A reason as it is stored: without the memory addresses of reprs, so that the same run
    gives the same results (`<function search at 0x7f89...>` becomes `<function search>`)."""
    return _ADDRESS.sub("", text) if " at 0x" in text else text


@dataclass(frozen=True)
class Verdict:
    """A metric's verdict with its reason, and a score where there is one. Truthy when passed."""

    passed: bool
    reason: str = ""
    score: float | None = None

    def __bool__(self) -> bool:
        return self.passed


@dataclass(frozen=True)
class Outcome:
    """What a case came to: passed, failed (the verdict said no) or error (the metric broke)."""

    kind: Kind
    reason: str = ""
    score: float | None = None


# The outcomes of the commonest returns, made once: frozen, so every case may share them.
_PASSED = Outcome("passed")
_FAILED = Outcome("failed")


def _from_verdict(value: object, threshold: float) -> Outcome | None:
    """A bare verdict (not a tuple); None when `value` is not one."""
    if value is None:
        return _PASSED
    if isinstance(value, Verdict):
        kind: Kind = "passed" if value.passed else "failed"
        return Outcome(kind, stable_reason(value.reason), value.score)
    if isinstance(value, bool):
        return _PASSED if value else _FAILED
    if isinstance(value, int):
        if value in (0, 1):
            return Outcome("passed" if value else "failed", score=float(value))
        return Outcome(
            "error",
            f"the metric returned the integer {value}; only 0 and 1 are "
            f"verdicts (return a float in [0, 1] for a score)",
        )
    if isinstance(value, float):
        if math.isnan(value) or not 0.0 <= value <= 1.0:
            return Outcome("error", f"the metric returned the score {value}, outside [0, 1]")
        kind = "passed" if value >= threshold else "failed"
        reason = "" if kind == "passed" else f"score {value:.3g} is below the threshold {threshold}"
        return Outcome(kind, reason, value)
    return None


def outcome_of(value: object, threshold: float) -> Outcome:
    """The outcome of a metric that returned `value` without raising."""
    if isinstance(value, tuple) and len(value) == 2 and not isinstance(value[0], tuple):
        verdict, reason = value
        outcome = _from_verdict(verdict, threshold)
        if outcome is not None and outcome.kind != "error" and isinstance(reason, str):
            # Like an assert's message, the reason explains a failure; a pass does not keep it.
            kept = "" if outcome.kind == "passed" else stable_reason(reason)
            return Outcome(outcome.kind, kept, outcome.score)
        if outcome is not None and outcome.kind == "error":
            return outcome
    else:
        outcome = _from_verdict(value, threshold)
        if outcome is not None:
            return outcome
    shown = stable_reason(repr(value))
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return Outcome(
        "error", f"the metric returned {type(value).__name__} {shown}; return {ALLOWED_RETURNS}"
    )


def broken_reason(report: Any) -> str:
    """The reason of an error whose test broke outside the metric (a fixture, a hook): the one
    line pytest shows for the failed report, after "error in setup: " when it broke there."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None) or report.longreprtext.strip()
    message = stable_reason(redact(str(message)))  # a fixture's error may quote a key
    return f"error in setup: {message}" if report.when == "setup" else message

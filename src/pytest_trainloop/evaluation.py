"""One metric on one event: calling it, and what that came to (an outcome, a judge's votes).

Shared by both ways of running: one test per event (plugin.py) and batch mode (batch.py).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

from pytest_trainloop.events import Event, EventLineError
from pytest_trainloop.outcomes import Outcome, outcome_of, stable_reason
from pytest_trainloop.redact import redact
from pytest_trainloop.summary import JudgeUsage, merge_usage

_SNIPPET = 200  # characters of a case's input and output kept in the results details

RETURNED_KEY = pytest.StashKey[object]()
JUDGE_KEY = pytest.StashKey[Any]()  # the case's trainloop_judge, when it asked for one
# judge usage of verdicts asked through the module-level judge
USAGE_KEY = pytest.StashKey[JudgeUsage]()
OUTCOME_KEY = pytest.StashKey[Outcome]()  # a one-event case's outcome, once its metric returned
VOTES_KEY = pytest.StashKey[list[list[object]]]()  # ... and its judge votes, if it had some


def keep_returned_value(item: pytest.Item, function: Any) -> Any:
    """Wrap an async metric so its verdict survives an async plugin that runs it and drops it.

    pytest-asyncio runs a coroutine test through a sync wrapper that discards what it returns;
    the verdict is kept in the item's stash instead, whoever runs the coroutine.
    """

    @functools.wraps(function)
    async def keep(*args: Any, **kwargs: Any) -> None:
        item.stash[RETURNED_KEY] = await function(*args, **kwargs)

    return keep


def call_metric(item: pytest.Function, funcargs: dict[str, Any]) -> object:
    """Call the metric with its arguments; what it returns (exceptions propagate)."""
    value = item.obj(**funcargs)
    if type(value) is bool:  # the commonest return, and not a coroutine
        return value
    return returned(item, value)


def returned(item: pytest.Function, value: object) -> object:
    """What the metric of `item` came to when its call returned `value`: an async metric that
    no async plugin has taken is run here, and one that a plugin ran left its verdict in the
    item's stash."""
    if inspect.iscoroutine(value):  # an async metric that no async plugin has taken
        import asyncio  # only then: asyncio costs ~13 ms to import

        value = asyncio.run(value)
    # An async metric's verdict, kept by `keep_returned_value`, whose wrapper returns None.
    if value is None and RETURNED_KEY in item.stash:
        value = item.stash[RETURNED_KEY]
        del item.stash[RETURNED_KEY]
    return value


def evaluate(
    item: pytest.Function, funcargs: dict[str, Any], threshold: float
) -> tuple[Outcome, list[list[object]] | None]:
    """The metric's outcome on one event, and a judge verdict's votes if it returned one.

    A failed assert is the metric's "no", with the assertion's message as the reason; any other
    exception propagates (per case, pytest reports it with its traceback).
    """
    try:
        value = call_metric(item, funcargs)
    except AssertionError as exc:
        return _assert_failed(exc), None
    return judged(item, value, threshold)


def judged(
    item: pytest.Function, value: object, threshold: float
) -> tuple[Outcome, list[list[object]] | None]:
    """The outcome of a metric that returned `value`, and a judge verdict's votes if any."""
    if value is True or value is False or value is None:  # the commonest: no votes to look for
        return outcome_of(value, threshold), None
    votes = getattr(value, "votes", None)  # a judge's verdict carries its votes
    if not votes:
        return outcome_of(value, threshold), None
    if JUDGE_KEY not in item.stash:  # asked through judge.assert_true: count its usage here
        merge_usage(item.stash.setdefault(USAGE_KEY, {}), _as_counts(getattr(value, "usage", {})))
    return outcome_of(value, threshold), [
        [v.model, v.index, v.claim_answer, v.negation_answer] for v in votes
    ]


def _assert_failed(exc: AssertionError) -> Outcome:
    """A failed assert is the metric's "no", with the assertion's message as the reason."""
    return Outcome("failed", stable_reason(str(exc)) or "assertion failed")


# pytest's own rule for a test: whatever it raises is its outcome, except these, which stop the
# run. A metric on one event of a chunk follows the same rule.
STOPS_THE_RUN = (KeyboardInterrupt, pytest.exit.Exception)


def raised(exc: BaseException) -> Outcome | None:
    """The outcome of a metric that raised `exc` on one event of a chunk, as it would be per
    case: a failed assert fails, skip and xfail are not counted (None), the rest are errors.

    Only per case does an error keep pytest's own report and traceback; in batch mode it is
    the error of its event, and the chunk's other events still run.
    """
    if isinstance(exc, AssertionError):
        return _assert_failed(exc)
    if isinstance(exc, pytest.skip.Exception | pytest.xfail.Exception):
        return None
    return Outcome("error", exception_reason(exc))


def exception_reason(exc: BaseException) -> str:
    """The reason of an error the metric raised, per case and per event alike; with every
    secret the process knows masked, since it is written to the results JSON and JUnit."""
    return stable_reason(redact(f"{type(exc).__name__}: {exc}"))


def _as_counts(usage: dict[str, Any]) -> JudgeUsage:
    """The judge's own usage objects (per model) as the counts the rest of the plugin keeps."""
    return {model: u.as_dict() for model, u in usage.items()}


def judge_usage(item: pytest.Item) -> JudgeUsage | None:
    """The judge calls, cache hits and tokens of a test, per model (None if it judged nothing)."""
    judge = item.stash.get(JUDGE_KEY, None)
    usage = _as_counts(judge.usage) if judge is not None else item.stash.get(USAGE_KEY, None)
    return usage or None


def snippets_of(event: Event) -> tuple[str, str]:
    """The start of the event's prompt and response, kept in the results details."""
    try:
        return event.prompt[:_SNIPPET], event.response[:_SNIPPET]
    except EventLineError:  # the metric met the same error: its case is an error already
        return "", ""

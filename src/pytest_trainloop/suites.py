"""The trainloop_suite marker: its arguments, and the events each metric runs on."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from pytest_trainloop.events import Event

_KEYWORDS = (
    "tags",
    "match",
    "threshold",
    "min_score",
    "include_errors",
    "allow_empty",
    "max_drop",
)


@dataclass(frozen=True)
class Selection:
    """Run-wide narrowing of every suite's events, from the command line or ini."""

    suites: tuple[str, ...] = ()
    tags: tuple[str, ...] | None = None
    limit: int | None = None
    sample: int | None = None
    seed: int = 0
    since: datetime | None = None
    until: datetime | None = None
    shard: tuple[int, int] | None = None  # (index, count), 1-based: this run's share of events


@dataclass(frozen=True)
class MetricSpec:
    """One marked function's marker arguments, checked."""

    suite: str
    metric: str
    tags: tuple[str, ...]
    match: str
    threshold: float
    min_score: float | None
    include_errors: bool
    allow_empty: bool = False  # no event to evaluate is no failure
    max_drop: float | None = None  # the paired score may fall at most this much from a baseline


class MarkerError(ValueError):
    """A marker's arguments are wrong: the message says what is wrong and what is allowed."""


def _bound(name: str, value: object, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or not 0 <= value <= 1
    ):
        raise MarkerError(f"{name}= must be a number in [0, 1], got {value!r}")
    return float(value)


def metric_name(function_name: str) -> str:
    return function_name.removeprefix("test_")


def parse_marker(mark: pytest.Mark, function_name: str) -> MetricSpec:
    """Check the marker's arguments; a mistake is a `MarkerError` naming what is allowed."""
    args: tuple[Any, ...] = mark.args
    kwargs: dict[str, Any] = dict(mark.kwargs)
    if "name" in kwargs and not args:
        args = (kwargs.pop("name"),)
    unknown = sorted(set(kwargs) - set(_KEYWORDS))
    if unknown:
        raise MarkerError(
            f"got unknown argument(s) {', '.join(unknown)}; allowed: name, {', '.join(_KEYWORDS)}"
        )
    if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
        raise MarkerError(f"takes one suite name (a non-empty string) first, got {args!r}")
    tags = kwargs.get("tags")
    if (
        not isinstance(tags, list | tuple)
        or not tags
        or not all(isinstance(tag, str) and tag for tag in tags)
    ):
        raise MarkerError(f"tags= must be a non-empty list of strings, got {tags!r}")
    match = kwargs.get("match", "any")
    if match not in ("any", "all"):
        raise MarkerError(f"match= must be 'any' or 'all', got {match!r}")
    include_errors, allow_empty = (kwargs.get(k, False) for k in ("include_errors", "allow_empty"))
    for name, flag in (("include_errors", include_errors), ("allow_empty", allow_empty)):
        if not isinstance(flag, bool):
            raise MarkerError(f"{name}= must be True or False, got {flag!r}")
    threshold = _bound("threshold", kwargs.get("threshold", 0.5), optional=False)
    assert threshold is not None
    return MetricSpec(
        suite=args[0],
        metric=metric_name(function_name),
        tags=tuple(tags),
        match=match,
        threshold=threshold,
        min_score=_bound("min_score", kwargs.get("min_score"), optional=True),
        include_errors=include_errors,
        allow_empty=allow_empty,
        max_drop=_bound("max_drop", kwargs.get("max_drop"), optional=True),
    )


@dataclass(frozen=True)
class Chosen:
    """A metric's events after selection, and the ids of the failed calls left out."""

    events: list[Event]
    left_out: tuple[str, ...]
    # the events the marker's own choices (tags, match, include_errors) selected, before the
    # run's narrowing (since, until, sample, limit): 0 when the suite selects nothing at all
    matched: int = 0


def choose(events: list[Event], spec: MetricSpec, selection: Selection) -> Chosen:
    """The events a metric runs on, in reading order; the same in every process."""
    wanted = set(selection.tags or spec.tags)
    if spec.match == "all":
        chosen = [e for e in events if wanted.issubset(e.tags)]
    else:
        chosen = [e for e in events if not wanted.isdisjoint(e.tags)]
    left_out: tuple[str, ...] = ()
    if not spec.include_errors:
        left_out = tuple(e.id for e in chosen if not e.succeeded)
        chosen = [e for e in chosen if e.succeeded]
    matched = len(chosen)
    since, until = selection.since, selection.until
    if since is not None or until is not None:
        chosen = [
            e
            for e in chosen
            if e.timestamp is not None
            and (since is None or e.timestamp >= since)
            and (until is None or e.timestamp < until)
        ]
    if selection.sample is not None and selection.sample < len(chosen):
        # A string seed is hashed with SHA-512 by `random`: the same sample in every process.
        rng = random.Random(f"{selection.seed}:{spec.suite}")
        picked = sorted(rng.sample(range(len(chosen)), selection.sample))
        chosen = [chosen[i] for i in picked]
    if selection.limit is not None:
        chosen = chosen[: selection.limit]
    if selection.shard is not None:  # last: the shards of a run split exactly its selection
        index, count = selection.shard
        chosen = [e for e in chosen if shard_of(e.id, count) == index]
    return Chosen(chosen, left_out, matched)


def shard_of(event_id: str, count: int) -> int:
    """The shard (1-based, of `count`) an event belongs to, by a hash of its id: the same on
    every machine, process and Python version (never `hash()`, which is salted per process)."""
    digest = hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count + 1

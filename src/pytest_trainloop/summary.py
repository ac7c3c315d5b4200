"""Pure aggregation: cases in, counts, scores and gate verdicts out. No pytest here."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

# Judge calls, cache hits and tokens per judge model: {model: {"calls": n, ...}}. The one shape
# of judge usage outside the judge itself (the report channel and the results file use it).
JudgeUsage = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Case:
    """One evaluated case as the report channel delivered it."""

    suite: str
    metric: str
    event_id: str
    kind: str  # "passed" | "failed" | "error"
    reason: str = ""
    score: float | None = None
    input: str = ""
    output: str = ""
    judge_usage: JudgeUsage | None = None
    judge_votes: list[Any] | None = None


def add_counts(total: dict[str, int], more: dict[str, int]) -> None:
    """Add one model's counts (calls, cache hits, tokens) into `total`."""
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


def merge_usage(total: JudgeUsage, more: JudgeUsage) -> None:
    """Add per-model judge counts into `total`."""
    for model, counts in more.items():
        add_counts(total.setdefault(model, {}), counts)


def usage_sums(usage: JudgeUsage) -> dict[str, int]:
    """The counts of every model added up."""
    sums: dict[str, int] = {}
    for counts in usage.values():
        add_counts(sums, counts)
    return sums


_NO_SCORE = float("nan")  # a plain pass without a score, in `MetricTally`'s score column
_NO_SCORES = array("d", [_NO_SCORE])  # repeated for plain passes counted together


@dataclass
class MetricTally:
    suite: str
    metric: str
    min_score: float | None = None
    threshold: float | None = None
    max_drop: float | None = None  # the marker's, gating the paired score against a baseline
    passed: int = 0
    failed: int = 0
    errors: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    judge_usage: JudgeUsage = field(default_factory=dict)
    # Every case, by the order it was counted in: its event id, and its score (NaN: none) when
    # it is a plain pass, or else its whole detail. Columns, not a dict per case: a plain pass
    # costs 16 bytes here (a million-event run counted 2M dicts, 200+ bytes each).
    ids: list[str] = field(default_factory=list, repr=False)
    scores: array[float] = field(default_factory=lambda: array("d"), repr=False)
    full: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)
    scored: int = field(default=0, repr=False)  # plain passes with a score

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors

    def failed_ids(self) -> Iterator[str]:
        """The event ids of its failed cases (not its errors), in the order counted."""
        return (d["event_id"] for d in self.full.values() if d["verdict"] == "failed")

    def count(
        self,
        event_id: str,
        kind: str,
        reason: str,
        score: float | None,
        input: str,
        output: str,
        judge_votes: list[Any] | None,
    ) -> None:
        """One case: its verdict counted, its detail kept for the results file.

        Every case keeps its event id, verdict and score, so that two runs pair case by case;
        the text snippets are kept for failures and errors only, where a reader needs them
        (most cases pass, and snippets were most of a results file's bytes).
        """
        n = len(self.ids)
        self.ids.append(event_id)
        if kind == "passed":
            self.passed += 1
            if not reason and not judge_votes:
                if score is None:
                    self.scores.append(_NO_SCORE)
                    return
                if type(score) is float and score == score:  # NaN and ints keep their detail
                    self.scores.append(score)
                    self.scored += 1
                    return
        self.scores.append(_NO_SCORE)
        detail: dict[str, Any] = {"event_id": event_id, "verdict": kind}
        if score is not None:
            detail["score"] = score
        if kind == "passed":
            if reason:
                detail["reason"] = reason
        else:
            if kind == "failed":
                self.failed += 1
            else:
                self.errors += 1
            if reason:
                self.reasons[reason.splitlines()[0][:120]] += 1
                detail["reason"] = reason
            detail["input"] = input
            detail["output"] = output
        if judge_votes:
            detail["judge_votes"] = judge_votes
        self.full[n] = detail

    def count_rows(
        self, rows: Iterable[tuple[str, str, str, float | None, str, str, list[Any] | None]]
    ) -> None:
        """`count` for each row (a batch test's, in `count`'s order)."""
        count = self.count
        for row in rows:
            count(*row)

    def count_plain_passes(self, event_ids: list[str]) -> None:
        """Plain passes (no reason, score or votes), most cases of a large batch run, counted
        by their event ids alone, without a row or a call each."""
        self.ids.extend(event_ids)
        self.scores.extend(_NO_SCORES * len(event_ids))
        self.passed += len(event_ids)

    @property
    def details(self) -> Details:
        """Every case's detail, sorted by event id (as the results file lists them)."""
        return Details(self)

    def detail_at(self, index: int) -> dict[str, Any]:
        """The detail of the case counted `index`-th: kept whole, or a plain pass made now from
        its id and score (NaN: none)."""
        full = self.full.get(index)
        if full is not None:
            return full
        detail: dict[str, Any] = {"event_id": self.ids[index], "verdict": "passed"}
        score = self.scores[index]
        if score == score:
            detail["score"] = score
        return detail

    def details_like(self, other: Details | None) -> Details:
        """`details`, in the order of `other` if it counted the same ids (see `Details`)."""
        return Details(self, other)

    @property
    def score(self) -> float | None:
        return self.passed / self.total if self.total else None


class Details(Sequence[dict[str, Any]]):
    """A metric's cases as the results file lists them: one dict per case, sorted by event id
    (ties in the order counted), each made when asked for from the tally's columns, so that a
    large run never holds them all. A Sequence, not a list: iterate it, or `list()` it; the
    results file is written from the columns directly (`results.write`).
    """

    __slots__ = ("_order", "_tally")

    def __init__(self, tally: MetricTally, like: Details | None = None) -> None:
        """`like`: the details of another metric; when it counted the same ids in the same
        order (the metrics of one selection do per case, and in batch mode when their plain
        passes fall on the same events), its order is this one's, not sorted again."""
        self._tally = tally
        ids = tally.ids
        if like is not None and like.tally.ids == ids:
            self._order = like.order
        else:  # in an array, not a list of ints: 8 bytes each instead of 36
            self._order = array("q", sorted(range(len(ids)), key=ids.__getitem__))

    @property
    def order(self) -> array[int]:
        """The tally's index of each case, in the order listed."""
        return self._order

    @property
    def tally(self) -> MetricTally:
        return self._tally

    def _detail(self, index: int) -> dict[str, Any]:
        return self._tally.detail_at(index)

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, at: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, at: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, at: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(at, slice):
            return [self._detail(i) for i in self._order[at]]
        return self._detail(self._order[at])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(self._detail, self._order)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, as a list

    def __repr__(self) -> str:
        return f"Details({list(self)!r})"


@dataclass(frozen=True)
class Gate:
    """A bound the user set on a score, and whether the run met it."""

    name: str  # "min_score", "fail_under" or "not_empty" (bound and score count cases: 1, 0)
    suite: str | None
    metric: str | None
    bound: float
    score: float

    @property
    def held(self) -> bool:
        return self.score >= self.bound

    @property
    def label(self) -> str:
        if self.name == "fail_under":
            return "--trainloop-fail-under"
        if self.name == "not_empty":
            return f"{self.suite}/{self.metric} evaluated nothing"
        return f"min_score of {self.suite}/{self.metric}"


@dataclass
class Tally:
    """Everything the run evaluated, folded case by case."""

    metrics: dict[tuple[str, str], MetricTally] = field(default_factory=dict)
    suite_tags: dict[str, list[str]] = field(default_factory=dict)
    left_out_errors: dict[str, int] = field(default_factory=dict)
    left_out_total: int = 0  # failed calls left out, each counted once over all suites
    empty_suites: dict[str, str] = field(default_factory=dict)
    # (suite, metric) -> why it had nothing to evaluate (a shard's results list them)
    empty_metrics: dict[tuple[str, str], str] = field(default_factory=dict)
    # (suite, metric) -> why: metrics with no case whose emptiness fails the run
    must_not_be_empty: dict[tuple[str, str], str] = field(default_factory=dict)
    unattributed_errors: int = 0

    def metric(self, suite: str, metric: str) -> MetricTally:
        key = (suite, metric)
        tally = self.metrics.get(key)
        if tally is None:
            tally = self.metrics[key] = MetricTally(suite, metric)
        return tally

    def add(self, case: Case) -> None:
        tally = self.metric(case.suite, case.metric)
        tally.count(
            case.event_id,
            case.kind,
            case.reason,
            case.score,
            case.input,
            case.output,
            case.judge_votes,
        )
        if case.judge_usage:
            merge_usage(tally.judge_usage, case.judge_usage)

    def suites(self) -> dict[str, list[MetricTally]]:
        by_suite: dict[str, list[MetricTally]] = {}
        for (suite, _), tally in sorted(self.metrics.items()):
            by_suite.setdefault(suite, []).append(tally)
        return by_suite

    @staticmethod
    def suite_score(tallies: list[MetricTally]) -> float | None:
        """A suite's overall score: the mean of its metrics' scores."""
        scores = [t.score for t in tallies if t.score is not None]
        return sum(scores) / len(scores) if scores else None

    def totals(self) -> tuple[int, int, int]:
        """Passed, failed and errors over every metric (errors include the unattributed)."""
        passed = sum(t.passed for t in self.metrics.values())
        failed = sum(t.failed for t in self.metrics.values())
        errors = sum(t.errors for t in self.metrics.values()) + self.unattributed_errors
        return passed, failed, errors

    def judge_usage(self, suite: str | None = None) -> JudgeUsage:
        """Judge counts per model, over one suite or the whole run."""
        total: JudgeUsage = {}
        for (name, _), tally in sorted(self.metrics.items()):
            if suite is None or name == suite:
                merge_usage(total, tally.judge_usage)
        return total

    def overall_score(self) -> float | None:
        passed, failed, errors = self.totals()
        total = passed + failed + errors
        return passed / total if total else None

    def gates(self, fail_under: float | None) -> list[Gate]:
        """The gates that apply to what ran: metrics with a min_score and a case evaluated."""
        gates = [
            Gate("min_score", t.suite, t.metric, t.min_score, t.score)
            for t in (self.metrics[k] for k in sorted(self.metrics))
            if t.min_score is not None and t.score is not None
        ]
        overall = self.overall_score()
        if fail_under is not None and overall is not None:
            gates.append(Gate("fail_under", None, None, fail_under, overall))
        gates += [Gate("not_empty", s, m, 1, 0) for s, m in sorted(self.must_not_be_empty)]
        return gates

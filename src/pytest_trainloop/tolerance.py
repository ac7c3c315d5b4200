"""Whether a metric's failing cases fail the run: the one rule that gives a case and a batch
chunk their pytest outcome (channel.py), and the merge of a sharded run's files its exit code
(merge.py), so that the shards merged exit as the run on one machine does. Pure (no pytest).

A failed verdict is tolerated (xfailed: shown, and out of the exit code) when a gate on the
aggregate decides instead; an error never is.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_trainloop.baseline import MetricBaseline
from pytest_trainloop.shards import label


def tolerating_gate(
    min_score: float | None,
    fail_under: float | None,
    shard: tuple[int, int] | None = None,
    baseline: MetricBaseline | None = None,
    failed_ids: Iterable[str] = (),
) -> str | None:
    """The gate on the aggregate that tolerates a metric's failing cases (`failed_ids`), if
    one does: the metric's `min_score`, `--trainloop-fail-under`, or a regression gate.

    A shard tolerates them all: whether they fail the build is for the merge of the shards to
    decide, as the single run would. A regression gate tolerates only failures on events the
    baseline also has (`baseline`: the metric's cases there, None when the run has no baseline
    or the baseline lacks the metric).
    """
    if min_score is not None:
        return f"min_score={min_score:g}"
    if fail_under is not None:
        return f"--trainloop-fail-under={fail_under:g}"
    if shard is not None:
        return f"{label(shard)} (the merge decides)"
    return None if baseline is None else baseline.tolerates(failed_ids)


def fails(failed: int, errors: int, gate: str | None) -> bool:
    """Whether cases with `failed` failed verdicts and `errors` errors fail the run: an error
    does; a failed verdict does unless `gate` (`tolerating_gate`'s) tolerates it."""
    return errors > 0 or (failed > 0 and gate is None)

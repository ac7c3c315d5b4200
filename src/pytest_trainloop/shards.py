"""A shard of a run (`--trainloop-shard I/N`): its name, and what its results file holds beyond
its cases, for `pytest-trainloop merge` (merge.py) to read. Pure, and light: every aggregating
process imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

Shard = tuple[int, int]  # (index, count), 1-based
SECTION = "shard"  # a shard's own top-level section of its results file


@dataclass(frozen=True)
class Regression:
    """The run's regression gate options, as its settings resolved them from the command line,
    the ini file or the defaults: a shard records them for the merge, which compares with the
    baseline and gates as the run would have."""

    fail_on_regression: bool
    max_drop: float | None  # on the overall paired score
    alpha: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def label(shard: Shard) -> str:
    """`shard 2/4`: a shard's name in the partial reasons and on the terminal."""
    return f"shard {shard[0]}/{shard[1]}"


def configuration(shard: Shard | None) -> dict[str, int] | None:
    """The `shard` entry of a run's configuration."""
    return None if shard is None else {"index": shard[0], "count": shard[1]}


def note(shard: Shard) -> str:
    """The terminal's line after a shard's summary."""
    return f"{label(shard)}: gates are decided by `pytest-trainloop merge`"


def shard_fields(
    shard: Shard,
    empty: Mapping[tuple[str, str], str],
    must_not_be_empty: Mapping[Any, str],
    regression: Regression,
) -> dict[str, Any]:
    """What a shard's results hold on top of a run's: its gates are undecided (`gates_held` is
    null), its metrics that had nothing to evaluate in its share, with why, so that the merge
    tells which had nothing in the whole run (and fail it, as `not_empty` gates), and the run's
    regression options, which the merge's gates use unless its own flags say otherwise."""
    return {
        "gates_held": None,
        SECTION: {
            "index": shard[0],
            "count": shard[1],
            "empty_metrics": [
                {
                    "suite": suite,
                    "metric": metric,
                    "reason": why,
                    "must_not_be_empty": (suite, metric) in must_not_be_empty,
                }
                for (suite, metric), why in sorted(empty.items())
            ],
            "regression": regression.as_json(),
        },
    }

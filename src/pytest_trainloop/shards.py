"""A shard of a run (`--trainloop-shard I/N`): its name, and what its results file holds beyond
its cases, for `pytest-trainloop merge` (merge.py) to read. Pure, and light: every aggregating
process imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Shard = tuple[int, int]  # (index, count), 1-based
SECTION = "shard"  # a shard's own top-level section of its results file


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
    shard: Shard, empty: Mapping[tuple[str, str], str], must_not_be_empty: Mapping[Any, str]
) -> dict[str, Any]:
    """What a shard's results hold on top of a run's: its gates are undecided (`gates_held` is
    null), and its metrics that had nothing to evaluate in its share, with why, so that the merge
    tells which had nothing in the whole run (and fail it, as `not_empty` gates)."""
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
        },
    }

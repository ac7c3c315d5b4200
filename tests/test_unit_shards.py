"""Which shard an event belongs to: stable, and spread evenly."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from pytest_trainloop.suites import shard_of


def test_every_event_belongs_to_exactly_one_shard_in_range() -> None:
    for count in (1, 2, 3, 7):
        assert {shard_of(f"req_{n}", count) for n in range(200)} <= set(range(1, count + 1))


def test_a_thousand_ids_spread_within_a_few_percent_of_even_over_four_shards() -> None:
    counts = Counter(shard_of(f"req_{n:05d}", 4) for n in range(1000))
    assert sorted(counts) == [1, 2, 3, 4]
    assert all(abs(n - 250) <= 25 for n in counts.values()), counts  # within 10% of 250


def test_the_shard_of_an_id_is_the_same_in_another_process_with_another_hash_seed() -> None:
    ids = [f"req_{n}" for n in range(50)] + ["ev-0123456789", "ünïcode-id"]
    here = [shard_of(i, 5) for i in ids]
    code = (
        "import sys; from pytest_trainloop.suites import shard_of; "
        f"print([shard_of(i, 5) for i in {ids!r}])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == str(here)

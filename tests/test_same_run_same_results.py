"""The same run gives the same results: in random order, and byte for byte in a new process."""

from __future__ import annotations

import pytest

from tests.conftest import Project, comparable, documented_event


def test_random_order_gives_the_same_results(mixed: Project) -> None:
    mixed.run("--trainloop")
    ordered = comparable(mixed.results())
    result = mixed.run("--trainloop", "-p", "randomly", "-p", "no:cacheprovider", random_order=True)
    result.stdout.fnmatch_lines(["Using --randomly-seed=*"])
    assert comparable(mixed.results()) == ordered


@pytest.mark.parametrize("batch", [[], ["--trainloop-batch"]], ids=["per-case", "batch"])
def test_two_identical_runs_write_the_same_bytes_though_reasons_name_functions(
    project: Project, batch: list[str]
) -> None:
    project.events([documented_event(f"req_{c}", tags=["t"], content=c) for c in "abcd"])
    project.metrics("""
import re
import pytest

class Finder:
    pass

@pytest.mark.trainloop_suite("s", tags=["t"], min_score=0.1)
def found(event):
    assert re.search("a", event.response)

@pytest.mark.trainloop_suite("s", tags=["t"])
def breaks(event):
    raise LookupError(f"no {Finder()!r} for {re.search!r}")
""")
    for _ in range(2):  # each in a fresh process: its functions get new addresses
        project.pytester.runpytest_subprocess("-p", "no:randomly", "--trainloop", *batch)
    first, second = (
        [line for line in path.read_bytes().splitlines() if b'"timestamp"' not in line]
        for path in project.results_files()
    )
    assert first == second
    details = project.results()["suites"]["s"]["metrics"]["found"]["details"]
    assert "where None = <function search>('a', 'b')" in details[1]["reason"]
    broke = project.results()["suites"]["s"]["metrics"]["breaks"]["details"]
    assert (
        broke[0]["reason"] == "LookupError: no <test_metrics.Finder object> for <function search>"
    )

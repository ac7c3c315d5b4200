"""Async metrics, with pytest-asyncio in any mode or without it, per case and in batches."""

from __future__ import annotations

import pytest

from tests.conftest import INI, MIXED_METRICS, Project


def test_pytest_asyncio_in_auto_mode_leaves_metrics_alone(mixed: Project) -> None:
    mixed.pytester.makeini(INI + "asyncio_mode = auto\n")
    mixed.metrics(MIXED_METRICS + "\nasync def test_async_plain():\n    pass\n")
    result = mixed.run("--trainloop")
    result.assert_outcomes(passed=5, failed=4)
    assert mixed.results()["suites"]["s"]["metrics"]["is_hello"]["failed"] == 2


ASYNC_METRIC = """
import asyncio
import pytest

@pytest.mark.trainloop_suite("s", tags=["t"])
async def is_hello_later(event):
    await asyncio.sleep(0)
    return event.response == "Hello", "not hello"
"""


@pytest.mark.parametrize("batch", [False, True], ids=["per-case", "batch"])
@pytest.mark.parametrize(
    "asyncio_setup", ["asyncio_mode = auto", "asyncio_mode = strict", "-p no:asyncio"]
)
def test_async_metrics_keep_their_verdict_with_or_without_pytest_asyncio(
    mixed: Project, asyncio_setup: str, batch: bool
) -> None:
    mixed.metrics(ASYNC_METRIC)
    args = ["--trainloop-batch", "--trainloop-batch-size", "3"] if batch else []
    if asyncio_setup.startswith("-p"):
        args += asyncio_setup.split()
    else:
        mixed.pytester.makeini(INI + asyncio_setup + "\n")
    result = mixed.run("--trainloop", *args)
    if batch:  # two chunks, each holding a failure
        result.assert_outcomes(failed=2)
    else:
        result.assert_outcomes(passed=2, failed=2)
    metric = mixed.results()["suites"]["s"]["metrics"]["is_hello_later"]
    assert (metric["passed"], metric["failed"]) == (2, 2)
    assert [d["reason"] for d in metric["details"] if d["verdict"] == "failed"] == ["not hello"] * 2


ASYNC_FIXTURE_AND_METRIC = """
import asyncio
import pytest
import pytest_asyncio

@pytest_asyncio.fixture
async def loop_of_fixture():
    return asyncio.get_running_loop()

@pytest.mark.trainloop_suite("s", tags=["t"])
async def same_loop(event, loop_of_fixture):
    await asyncio.sleep(0)
    return asyncio.get_running_loop() is loop_of_fixture
"""


def test_in_batch_mode_an_async_metric_runs_in_its_async_fixtures_loop(mixed: Project) -> None:
    # An async fixture's client or connection belongs to pytest-asyncio's loop: the chunk's
    # events must be evaluated there, not in a loop of our own.
    mixed.metrics(ASYNC_FIXTURE_AND_METRIC)
    mixed.pytester.makeini(INI + "asyncio_mode = auto\n")
    result = mixed.run("--trainloop", "--trainloop-batch", "--trainloop-batch-size", "3")
    result.assert_outcomes(passed=2)
    assert mixed.results()["suites"]["s"]["metrics"]["same_loop"]["passed"] == 4

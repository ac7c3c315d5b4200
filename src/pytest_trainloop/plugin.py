"""The pytest hooks and fixtures of pytest-trainloop; each one delegates.

The module's own hooks are the ones every run needs: options, the marker, collecting marked
functions whatever their name, and (without --trainloop) one skipped case per metric with a
hint. With --trainloop, `pytest_configure` registers the run's state and hooks (run.py) in every
process, and the session that aggregates (session.py) in the process that does: so an
installed but unused plugin adds nothing to any test's cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_trainloop.marker import EVENT_ARG, MARKER, MARKER_HELP, is_metric
from pytest_trainloop.options import add_options

if TYPE_CHECKING:
    from pytest_trainloop.run import Run

NOT_ENABLED_HINT = "trainloop metric: run pytest with --trainloop to evaluate it on recorded events"

RUN_KEY: pytest.StashKey[Run] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    if not config.getoption("trainloop"):
        return
    # Imported here, as everything below: every pytest run imports this module, and without
    # --trainloop it needs only the options and the marker (`python bench/inert.py`).
    from pytest_trainloop.run import Run
    from pytest_trainloop.settings import Settings

    run_settings = Settings.resolve(config)
    on_worker = hasattr(config, "workerinput")
    run = config.stash[RUN_KEY] = Run(run_settings, on_worker)
    config.pluginmanager.register(run, "trainloop-run")  # closed by its pytest_unconfigure
    config.add_cleanup(run.thaw)  # now: cleanups run last registered first
    if not on_worker:  # the aggregating process: plain run or controller
        from pytest_trainloop.failures import FailuresShown
        from pytest_trainloop.session import TrainloopSession

        config.pluginmanager.register(TrainloopSession(config, run_settings), "trainloop-session")
        config.pluginmanager.register(FailuresShown(config), "trainloop-failures")


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> None:
    # Metrics need not be named test_*: flagging them `__test__` lets pytest's own collection
    # take them (and a marked class whatever its name), so nothing else about collection changes.
    if is_metric(collector, name, obj):
        obj.__test__ = True  # type: ignore[attr-defined]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    mark = metafunc.definition.get_closest_marker(MARKER)
    if mark is None:
        return
    from pytest_trainloop.collect import declared_spec

    spec = declared_spec(metafunc, mark)
    run = metafunc.config.stash.get(RUN_KEY, None)
    if run is None:
        skip = pytest.mark.skip(reason=NOT_ENABLED_HINT)
        metafunc.parametrize(EVENT_ARG, [pytest.param(None, marks=skip, id="not-enabled")])
        return
    run.parametrize(metafunc, spec)


@pytest.fixture(scope="session")
def _trainloop_judge_origin(pytestconfig: pytest.Config) -> Iterator[Any]:
    """The run's judge: its engine (event loop, HTTP client, bound on calls) serves every case."""
    from pytest_trainloop.judge import Judge
    from pytest_trainloop.settings import Settings

    run = pytestconfig.stash.get(RUN_KEY, None)
    run_settings = run.settings if run is not None else Settings.resolve(pytestconfig)
    origin = Judge(run_settings.judge_config())
    yield origin
    origin.close()


@pytest.fixture
def trainloop_judge(request: pytest.FixtureRequest, _trainloop_judge_origin: Any) -> Any:
    """A judge configured from trainloop.config.yaml and --trainloop-judge-*; its calls, cache
    hits and tokens are reported for the case's metric and suite."""
    from pytest_trainloop.evaluation import JUDGE_KEY

    judge = _trainloop_judge_origin.share()
    request.node.stash[JUDGE_KEY] = judge
    return judge

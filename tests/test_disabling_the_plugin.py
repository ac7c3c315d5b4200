"""With `-p no:trainloop`, pytest is plain pytest."""

from __future__ import annotations

import pytest

from tests.conftest import MIXED_METRICS, Project


def test_disabling_the_plugin_leaves_a_plain_pytest(mixed: Project) -> None:
    mixed.metrics(MIXED_METRICS + "\ndef test_plain():\n    pass\n")
    # Without the plugin its marker is unknown: pytest warns (an error under the suite's
    # filterwarnings) unless an earlier run in this process registered it, which pytest's
    # global `pytest.mark` remembers; ignored, so the test is the same alone or in the suite.
    unknown_mark = "ignore::pytest.PytestUnknownMarkWarning"
    result = mixed.run("-p", "no:trainloop", "-W", unknown_mark)
    # The metrics are not named test_*, so a plain pytest does not even collect them.
    result.assert_outcomes(passed=1)
    assert not (mixed.data / "results").exists()
    result = mixed.run("-p", "no:trainloop", "--trainloop")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # the option is gone with the plugin

"""Strict markers and warnings as errors: a run with the plugin stays clean."""

from __future__ import annotations

from tests.conftest import INI, MIXED_METRICS, Project


def test_strict_markers_and_warnings_as_errors_give_a_clean_run(mixed: Project) -> None:
    mixed.pytester.makeini(INI + "filterwarnings = error\naddopts = --strict-markers\n")
    mixed.metrics(
        MIXED_METRICS.replace('"Hello", "not hello"', '"Hello" or event.response == "Bye"').replace(
            "0.25 if", "1.0 if"
        )
    )
    result = mixed.run("--trainloop", "-W", "error")
    assert result.ret == 0
    result.assert_outcomes(passed=8)
    assert "warnings summary" not in result.stdout.str()

"""The command-line options and ini keys of pytest-trainloop: what `pytest_addoption` registers.

Imported by every pytest run where the plugin is installed, so it imports nothing but pytest:
turning the values into a run's settings is settings.py's work, loaded only with --trainloop.
"""

from __future__ import annotations

import pytest


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("trainloop", "evaluate recorded LLM events (pytest-trainloop)")
    group.addoption(
        "--trainloop",
        action="store_true",
        default=False,
        help="Run the metrics marked with trainloop_suite, one case per recorded event.",
    )
    group.addoption(
        "--trainloop-data-folder",
        default=None,
        metavar="DIR",
        help="Folder holding events/ (default: $TRAINLOOP_DATA_FOLDER, the "
        "trainloop_data_folder ini key, trainloop.config.yaml, then data/ in the rootdir).",
    )
    parser.addini(
        "trainloop_data_folder",
        "Folder holding events/, relative to the ini file.",
        default="",
    )
    for name, metavar, help_text in _VALUED_OPTIONS:
        flag = "--trainloop-" + name.replace("_", "-")
        if name == "suite":
            group.addoption(flag, action="append", default=None, metavar=metavar, help=help_text)
        else:
            group.addoption(flag, default=None, metavar=metavar, help=help_text)
        parser.addini("trainloop_" + name, help_text, default="")
    group.addoption(
        "--trainloop-batch",
        action="store_true",
        default=None,
        help="Evaluate each metric's events inside one test per chunk of events, not one "
        "test per event: for large runs (see --trainloop-batch-size).",
    )
    parser.addini(
        "trainloop_batch",
        "Evaluate in batches (see --trainloop-batch).",
        type="bool",
        default=False,
    )
    group.addoption(
        "--trainloop-strict",
        action="store_true",
        default=None,
        help="Make bad event lines a collection error instead of a warning.",
    )
    parser.addini(
        "trainloop_strict", "Make bad event lines a collection error.", type="bool", default=False
    )
    group.addoption(
        "--trainloop-fail-on-regression",
        action="store_true",
        default=None,
        help="Gate: exit 1 when a metric regressed significantly against the baseline.",
    )
    parser.addini(
        "trainloop_fail_on_regression",
        "Exit 1 when a metric regressed against the baseline.",
        type="bool",
        default=False,
    )
    group.addoption(
        "--trainloop-no-step-summary",
        action="store_false",
        dest="trainloop_step_summary",
        default=None,
        help="Do not append the Markdown summary to $GITHUB_STEP_SUMMARY.",
    )
    parser.addini(
        "trainloop_step_summary",
        "Append the Markdown summary to $GITHUB_STEP_SUMMARY when it is set (default true).",
        type="bool",
        default=True,
    )


_VALUED_OPTIONS = (
    ("suite", "NAME", "Run only this suite (repeatable; ini: names separated by spaces)."),
    ("tags", "TAG,...", "Evaluate events with these tags instead of the markers' tags."),
    ("limit", "N", "Evaluate at most the first N events of each suite."),
    ("sample", "N", "Evaluate a random sample of N events per suite (see --trainloop-seed)."),
    ("seed", "N", "Seed of --trainloop-sample (default 0): the same sample on every worker."),
    ("since", "TIME", "Only events recorded at or after TIME (ISO 8601 date or timestamp)."),
    ("until", "TIME", "Only events recorded before TIME (ISO 8601 date or timestamp)."),
    (
        "fail_under",
        "SCORE",
        "Gate: exit 1 when the overall score is below SCORE, in [0, 1]; "
        "failing cases are then tolerated and shown as xfailed.",
    ),
    ("results", "PATH", "Write this run's results JSON to PATH instead of data/results/."),
    ("batch_size", "N", "Events per test in batch mode (default 5000)."),
    (
        "batch_concurrency",
        "N",
        "In batch mode, events an async metric evaluates at once within a test (default 16).",
    ),
    ("judge_models", "M,...", "Judge panel, e.g. openai/gpt-4o-mini,anthropic/claude-3-5-haiku"),
    ("judge_calls", "K", "Judge calls per model per claim (and as many per negation)."),
    ("judge_cache", "MODE", "Judge cache: use (default), refresh, off or replay (offline)."),
    (
        "baseline",
        "REF",
        "Compare with a baseline: a results file, or 'latest' (the newest complete run).",
    ),
    ("alpha", "A", "Significance level of the comparison (default 0.05)."),
    (
        "max_drop",
        "X",
        "Gate: exit 1 when the overall paired score fell by more than X from the baseline.",
    ),
    ("html", "PATH", "Write the run's HTML report to PATH."),
    ("markdown", "PATH", "Write the run's Markdown summary to PATH."),
    ("shard", "I/N", "Evaluate shard I of N (1-based): each event in exactly one shard."),
)

"""The `pytest-trainloop` console script: works from results files, without running pytest.

Exit codes follow pytest's, so CI treats both alike: 0 all good, 1 a regression gate failed,
4 a usage error (a bad file or argument; pytest's ExitCode.USAGE_ERROR).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import orjson

from pytest_trainloop.compare import (
    DEFAULT_ALPHA,
    ResultsFileError,
    compare,
    latest_complete,
    read_results,
)
from pytest_trainloop.regression import max_drops, regression_gates
from pytest_trainloop.report.comparison import gate_lines, newly_failed_lines, table_lines

OK, GATE_FAILED, USAGE_ERROR = 0, 1, 4


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse exits 2, which pytest reserves for an interrupted run.
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pytest-trainloop",
        description="Work with pytest-trainloop results files without running pytest.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    cmp = commands.add_parser(
        "compare",
        help="Compare a run with a baseline, case by case.",
        description="Pair the cases of RUN with those of BASELINE by (suite, metric, event id) "
        "and show flips, McNemar's p-value and, for float scores, a bootstrap interval. "
        "Exit 1 with --fail-on-regression when a metric regressed, 4 for a bad file.",
    )
    cmp.add_argument(
        "baseline",
        metavar="BASELINE",
        help="The baseline's results file, or 'latest': the newest complete run in RUN's folder.",
    )
    cmp.add_argument("run", metavar="RUN", help="The run's results file.")
    cmp.add_argument(
        "--alpha",
        type=_alpha,
        default=DEFAULT_ALPHA,
        help=f"Significance level; intervals are at 1 - alpha (default {DEFAULT_ALPHA}).",
    )
    cmp.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="Exit 1 when any metric regressed significantly.",
    )
    cmp.add_argument(
        "--json", action="store_true", help="Print the comparison section as JSON instead."
    )
    report = commands.add_parser(
        "report",
        help="Write the HTML report (and a Markdown summary) of a results file.",
        description="Render one self-contained HTML page from a results file and its data "
        "folder (for the conversations), with the earlier complete runs of its folder as the "
        "score over time. Exit 4 for a file that is missing or not a results file.",
    )
    report.add_argument("results", metavar="RESULTS", help="A results file of a run.")
    report.add_argument(
        "-o", "--output", default="report.html", help="The page to write (default report.html)."
    )
    report.add_argument(
        "--markdown", metavar="PATH", help="Also write the Markdown summary to PATH."
    )
    return parser


def _report(args: argparse.Namespace) -> int:
    from pytest_trainloop.report import render_markdown, write_html_report
    from pytest_trainloop.results import write_atomically

    written = write_html_report(Path(args.results), Path(args.output))
    print(f"report: {written}")
    if args.markdown:
        text = render_markdown(read_results(Path(args.results)))
        print(f"markdown: {write_atomically(Path(args.markdown), text.encode('utf-8'))}")
    return OK


def _compare(args: argparse.Namespace) -> int:
    run_path = Path(args.run)
    run = read_results(run_path)
    if args.baseline == "latest":
        found = latest_complete(run_path.parent, exclude=run_path)
        if found is None:
            raise _UsageError(f"{run_path.parent}: no complete run other than {run_path.name}")
        baseline_path = found
    else:
        baseline_path = Path(args.baseline)
    baseline = read_results(baseline_path)
    comparison = compare(baseline, run, str(baseline_path), alpha=args.alpha)
    failed = regression_gates(comparison, args.fail_on_regression, max_drops(run))
    if args.json:
        sys.stdout.write(orjson.dumps(comparison.as_json(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        out = sys.stderr  # stdout holds only the JSON
    else:
        for line in [*table_lines(run, comparison), *newly_failed_lines(comparison)]:
            print(line)
        out = sys.stdout
    for line in gate_lines(failed):
        print(line, file=out)
    return GATE_FAILED if failed else OK


def main(argv: Sequence[str] | None = None) -> int:
    """The console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "compare":
            return _compare(args)
        if args.command == "report":
            return _report(args)
    except (ResultsFileError, _UsageError) as exc:
        print(f"pytest-trainloop {args.command}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    raise AssertionError(f"unhandled command {args.command}")  # argparse allows no other

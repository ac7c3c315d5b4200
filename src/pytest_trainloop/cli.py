"""The `pytest-trainloop` console script: works from results files, without running pytest
(compare two runs, report on one, merge the shards of one).

Exit codes follow pytest's, so CI treats both alike: 0 all good, 1 a regression gate failed,
4 a usage error (a bad file or argument; pytest's ExitCode.USAGE_ERROR).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import orjson

from pytest_trainloop.compare import (
    DEFAULT_ALPHA,
    ResultsFileError,
    compare,
    latest_complete,
    read_results,
)
from pytest_trainloop.merge import MergeError
from pytest_trainloop.regression import max_drops, regression_gates
from pytest_trainloop.report.comparison import gate_lines, newly_failed_lines, table_lines

if TYPE_CHECKING:
    from pytest_trainloop.baseline import Verdicts

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
    merge = commands.add_parser(
        "merge",
        help="Merge the results files of a sharded run into the single run's.",
        description="Merge the results files of the shards of one run (--trainloop-shard I/N, "
        "every shard 1..N once) into the results file the run would have written on one "
        "machine: counts, scores, gates and statistics recomputed from the cases. A complete "
        "run updates evaluation_summary.json in the output's folder. Exit 0, 1 when a gate is "
        "not met (or a case errored, or a case failed that no gate tolerates, as in a run), 4 "
        "for shards that do not make up one run.",
    )
    merge.add_argument("shards", metavar="SHARD", nargs="+", help="A shard's results file.")
    merge.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="RESULTS",
        help="The merged results file to write (a .json name), or a folder such as "
        "data/results, where it gets evaluation_results_<UTC time>.json as a run's file does.",
    )
    merge.add_argument(
        "--baseline",
        metavar="REF",
        help="Compare the merged run with a baseline results file, or 'latest': the newest "
        "complete run in the output's folder.",
    )
    # The regression options default to the run's, as its shards recorded them: None here.
    merge.add_argument(
        "--alpha",
        type=_alpha,
        help="Significance level of the comparison (default: the shards' run's, else "
        f"{DEFAULT_ALPHA}).",
    )
    merge.add_argument(
        "--fail-on-regression",
        action="store_true",
        default=None,
        help="Exit 1 when any metric regressed significantly against the baseline (default: "
        "as the shards' run did).",
    )
    merge.add_argument(
        "--max-drop",
        type=_alpha,
        metavar="D",
        help="Exit 1 when the paired overall score fell by more than D from the baseline "
        "(default: the shards' run's bound, if it had one).",
    )
    return parser


def _report(args: argparse.Namespace) -> int:
    from pytest_trainloop.atomic import write_atomically
    from pytest_trainloop.report.html import write_html_report
    from pytest_trainloop.report.markdown import render_markdown

    written = write_html_report(Path(args.results), Path(args.output))
    print(f"report: {written}")
    if args.markdown:
        text = render_markdown(read_results(Path(args.results)))
        print(f"markdown: {write_atomically(Path(args.markdown), text.encode('utf-8'))}")
    return OK


def _baseline_file(ref: str, folder: Path, exclude: Path | None) -> Path:
    """The baseline a command names: a results file, or `latest`, the newest complete run in
    `folder` other than `exclude`."""
    if ref != "latest":
        return Path(ref)
    found = latest_complete(folder, exclude=exclude)
    if found is None:
        other = f" other than {exclude.name}" if exclude is not None else ""
        raise _UsageError(f"{folder}: no complete run{other} to compare with")
    return found


def _compare(args: argparse.Namespace) -> int:
    run_path = Path(args.run)
    run = read_results(run_path)
    baseline_path = _baseline_file(args.baseline, run_path.parent, run_path)
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


def _merge(args: argparse.Namespace) -> int:
    from pytest_trainloop import merge, results
    from pytest_trainloop.report.terminal import TITLE, terminal_lines

    started = time.time()
    shards = [merge.read_shard(Path(path)) for path in args.shards]
    merged = merge.merge(shards)
    regression, overrides = merge.regression_options(
        merged.regression, args.fail_on_regression, args.max_drop, args.alpha
    )
    for line in overrides:
        print(f"pytest-trainloop merge: {line}", file=sys.stderr)
    now = results.utc_now()
    data = results.build(
        merged.tally, merged.gates, now, merged.bad_lines, merged.configuration, merged.partial
    )
    output = Path(args.output)
    # A folder unless named as a JSON file: a CI job's fresh checkout may not have it yet.
    into_folder = output.is_dir() or output.suffix.lower() != ".json"
    failed = []
    comparison_lines: list[str] = []
    verdicts: Verdicts | None = None  # the baseline's: its gates tolerate failures on its events
    if args.baseline:
        from pytest_trainloop import baseline

        folder = output if into_folder else output.parent
        baseline_path = _baseline_file(args.baseline, folder, None if into_folder else output)
        # As the single run does: the comparison and its gates into the results.
        compared = baseline.apply(
            data,
            baseline_path,
            regression.alpha,
            regression.fail_on_regression,
            regression.max_drop,
        )
        failed, verdicts = compared.failed, compared.verdicts
        comparison_lines = [*table_lines(data, compared.comparison)]
        comparison_lines += newly_failed_lines(compared.comparison)
    if into_folder:  # named and summarised as a run writing to its results folder
        written = results.write(data, output, now, None, started)
    else:
        written = results.write_as_run(data, output, now, started)
    lines = terminal_lines(
        merged.tally, merged.gates, len(merged.bad_lines), written.path, merged.partial, True
    )
    width = shutil.get_terminal_size().columns
    print(f" {TITLE} ".center(width, "="))
    for line in [*(line.text for line in lines), *comparison_lines, *gate_lines(failed)]:
        print(line)
    if written.damaged_summary is not None:
        print(
            f"trainloop: {written.path.parent / results.SUMMARY_NAME} was damaged "
            f"({written.damaged_summary}); the trend was rebuilt from the run files",
            file=sys.stderr,
        )
    code = merge.exit_code(merged, verdicts, regression.fail_on_regression, regression.max_drop)
    return GATE_FAILED if failed or code else OK


def main(argv: Sequence[str] | None = None) -> int:
    """The console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "compare":
            return _compare(args)
        if args.command == "report":
            return _report(args)
        if args.command == "merge":
            return _merge(args)
    except (ResultsFileError, _UsageError, MergeError) as exc:
        print(f"pytest-trainloop {args.command}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    raise AssertionError(f"unhandled command {args.command}")  # argparse allows no other

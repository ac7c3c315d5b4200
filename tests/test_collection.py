"""Marked functions become one case per matching event; without --trainloop they stay inert."""

from __future__ import annotations

import pytest

from tests.conftest import INI, Project, documented_event

METRICS = """
import pytest

@pytest.mark.trainloop_suite("greetings", tags=["greeting"])
def says_hello(event):
    assert "Hello" in event.response

@pytest.mark.trainloop_suite("qa", tags=["qa", "geo"], match="all")
def test_is_short(event):
    return len(event.response) < 100

def test_ordinary():
    pass
"""


@pytest.fixture
def tagged(project: Project) -> Project:
    project.events(
        [
            documented_event("g1", tags=["greeting"]),
            documented_event("g2", tags=["greeting", "qa"]),
            documented_event("q1", tags=["qa", "geo"]),
            documented_event("q2", tags=["qa"]),
            documented_event("bad", tags=["greeting"], content=None, error="Rate limit"),
        ]
    )
    project.metrics(METRICS)
    return project


def collected(result: pytest.RunResult) -> list[str]:
    return [
        line.split("::", 1)[1] for line in result.outlines if line.startswith("test_metrics.py::")
    ]


def test_each_marked_function_gets_one_case_per_matching_event(tagged: Project) -> None:
    result = tagged.run("--trainloop", "--co", "-q")
    assert collected(result) == [
        "says_hello[g1]",
        "says_hello[g2]",
        "test_is_short[q1]",
        "test_ordinary",
    ]


def test_failed_calls_are_left_out_unless_asked_for(tagged: Project) -> None:
    tagged.metrics(METRICS.replace('tags=["greeting"]', 'tags=["greeting"], include_errors=True'))
    result = tagged.run("--trainloop", "--co", "-q")
    assert "says_hello[bad]" in collected(result)


def test_without_trainloop_metrics_are_skipped_with_a_hint_and_nothing_is_read(
    tagged: Project,
) -> None:
    (tagged.data / "events" / "day1.jsonl").write_bytes(b"not json at all\n")
    result = tagged.run("-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*run pytest with --trainloop to evaluate it on recorded events"])
    output = result.stdout.str()
    assert "trainloop:" not in output  # no header, no events line
    assert "bad line" not in output  # the corrupt file was never opened
    assert not (tagged.data / "results").exists()


def test_with_trainloop_and_no_marked_function_nothing_is_read_or_written(project: Project) -> None:
    project.metrics("def test_plain():\n    pass\n")
    result = project.run("--trainloop")  # there is not even a data folder
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    assert not project.data.exists()


def test_metrics_can_be_marked_by_class_or_module_and_named_freely(project: Project) -> None:
    project.events([documented_event("e1", tags=["t"])])
    project.metrics(
        """
import pytest

pytestmark = pytest.mark.trainloop_suite("by_module", tags=["t"])

def module_metric(event):
    pass

def helper_without_event(x):
    raise AssertionError("never collected")
""",
        name="test_module_mark",
    )
    project.metrics(
        """
import pytest

@pytest.mark.trainloop_suite("by_class", tags=["t"])
class Metrics:
    def class_metric(self, event):
        pass
""",
        name="test_class_mark",
    )
    result = project.run("--trainloop", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*Metrics::class_metric[[]e1[]] PASSED*", "*::module_metric[[]e1[]] PASSED*"],
        consecutive=False,
    )
    suites = project.results()["suites"]
    assert set(suites) == {"by_module", "by_class"}


def test_a_suite_without_matching_events_is_one_skipped_case_naming_tags_and_folder(
    tagged: Project,
) -> None:
    tagged.metrics("""
import pytest

@pytest.mark.trainloop_suite("empty", tags=["nothing-has-this"])
def lonely(event):
    pass
""")
    result = tagged.run("--trainloop", "-rs")
    result.assert_outcomes(skipped=1)
    assert result.ret == 1  # an evaluation of nothing (see test_gates.py)
    result.stdout.fnmatch_lines(
        ["SKIPPED * no event with tags [[]nothing-has-this[]] (match=any) in *data/events"]
    )
    assert tagged.results()["suites"]["empty"]["skipped"].startswith("no event with tags")


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('"s", tags="greeting"', "tags= must be a non-empty list of strings, got 'greeting'"),
        ('"s", tags=["g"], colour="red"', "got unknown argument(s) colour; allowed: name, tags*"),
        ('tags=["g"]', "takes one suite name (a non-empty string) first*"),
        ('"s", tags=["g"], min_score=2', "min_score= must be a number in [[]0, 1], got 2"),
        ('"s", tags=["g"], threshold=-0.1', "threshold= must be a number in [[]0, 1]*"),
        ('"s", tags=["g"], match="some"', "match= must be 'any' or 'all', got 'some'"),
        ('"s", tags=["g"], allow_empty="yes"', "allow_empty= must be True or False, got 'yes'"),
    ],
)
def test_bad_marker_arguments_are_one_clean_collection_error_naming_what_is_allowed(
    tagged: Project, marker: str, message: str
) -> None:
    tagged.metrics(
        f"import pytest\n\n@pytest.mark.trainloop_suite({marker})\ndef m(event):\n    pass\n"
    )
    # Under xdist each worker reports the same collection error.
    workers = ["-n2"] if "allow_empty" in marker else []
    result = tagged.run("--trainloop", *workers)
    # pytest's exit code for collection errors; pytest-xdist's is 1
    assert result.ret == (1 if workers else pytest.ExitCode.INTERRUPTED)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_metrics.py*",
            f"test_metrics.py:3: @pytest.mark.trainloop_suite on m: {message}",
            "the marker: trainloop_suite(name, *, tags, match='any', *, max_drop=None)",
        ]
    )
    assert_no_traceback(result)


def assert_no_traceback(result: pytest.RunResult) -> None:
    output = result.stdout.str()
    assert (
        "pluggy/" not in output and "_pytest/" not in output and "pytest_trainloop/" not in output
    )
    assert "Traceback" not in output and "During handling" not in output


def test_a_metric_without_an_event_argument_is_a_clean_collection_error(tagged: Project) -> None:
    tagged.metrics(
        'import pytest\n\n@pytest.mark.trainloop_suite("s", tags=["g"])\ndef test_m():\n    pass\n'
    )
    result = tagged.run("--trainloop")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "test_metrics.py:3: test_m is a trainloop_suite metric: it must take an `event` "
            "argument, the recorded event it evaluates (def test_m(event): ...)"
        ]
    )
    assert_no_traceback(result)


def test_two_metrics_of_one_name_in_one_suite_are_a_clean_collection_error(
    tagged: Project,
) -> None:
    metric = (
        'import pytest\n\n@pytest.mark.trainloop_suite("s", tags=["g"])\ndef m(event):\n    pass\n'
    )
    tagged.metrics(metric, name="test_one")
    tagged.metrics(metric, name="test_two")
    result = tagged.run("--trainloop")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "test_two.py:3: suite 's' already has a metric named 'm' (test_one.py:3, "
            "test_one.py::m); give one of them another name or another suite"
        ]
    )
    assert_no_traceback(result)


def test_the_marker_is_registered(project: Project) -> None:
    result = project.run("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.trainloop_suite(name, *, tags, *"])


def test_suite_option_deselects_other_suites(tagged: Project) -> None:
    result = tagged.run("--trainloop", "--trainloop-suite", "qa", "-q")
    result.assert_outcomes(passed=2, deselected=1)
    assert set(tagged.results()["suites"]) == {"qa"}


@pytest.mark.parametrize("workers", [[], ["-n2"]], ids=["serial", "xdist"])
def test_an_unknown_suite_option_is_a_usage_error_listing_the_suites(
    tagged: Project, workers: list[str]
) -> None:
    result = tagged.run(
        "--trainloop", "--trainloop-suite", "qa", "--trainloop-suite", "nosuch", *workers
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = (
        "ERROR: --trainloop-suite: no suite named 'nosuch'; "
        "the suites of the collected metrics are: greetings, qa"
    )
    assert line in [*result.stdout.lines, *result.stderr.lines]
    assert "INTERNALERROR" not in result.stdout.str()
    assert not (tagged.data / "results").exists()


def test_tags_option_replaces_the_markers_tags(tagged: Project) -> None:
    result = tagged.run("--trainloop", "--trainloop-tags", "geo", "--co", "-q")
    assert collected(result) == ["says_hello[q1]", "test_is_short[q1]", "test_ordinary"]


def test_limit_takes_the_first_events_per_suite(tagged: Project) -> None:
    tagged.pytester.makeini(INI + "trainloop_limit = 1\n")
    result = tagged.run("--trainloop", "--co", "-q")
    assert collected(result) == ["says_hello[g1]", "test_is_short[q1]", "test_ordinary"]


def test_since_and_until_select_by_timestamp(project: Project) -> None:
    project.events(
        [
            documented_event(f"d{day}", tags=["t"], timestamp=f"2024-01-{day:02d}T12:00:00Z")
            for day in (10, 11, 12, 13)
        ]
    )
    project.metrics(
        'import pytest\n\n@pytest.mark.trainloop_suite("s", tags=["t"])\ndef m(event):\n    pass\n'
    )
    result = project.run(
        "--trainloop",
        "--co",
        "-q",
        "--trainloop-since",
        "2024-01-11",
        "--trainloop-until",
        "2024-01-13",
    )
    assert collected(result) == ["m[d11]", "m[d12]"]


def test_a_seeded_sample_is_the_same_on_every_worker_and_run(project: Project) -> None:
    project.events([documented_event(f"e{i}", tags=["t"]) for i in range(50)])
    project.metrics(
        'import pytest\n\n@pytest.mark.trainloop_suite("s", tags=["t"])\ndef m(event):\n    pass\n'
    )
    picked = []
    for args in (["-p", "no:xdist"], ["-n2"], ["-p", "no:xdist"]):
        result = project.run(
            "--trainloop", "--trainloop-sample", "7", "--trainloop-seed", "3", *args
        )
        result.assert_outcomes(passed=7)
        picked.append(
            sorted(
                d["event_id"] for d in project.results()["suites"]["s"]["metrics"]["m"]["details"]
            )
        )
    assert picked[0] == picked[1] == picked[2]
    result = project.run("--trainloop", "--trainloop-sample", "7", "--trainloop-seed", "4")
    other = sorted(
        d["event_id"] for d in project.results()["suites"]["s"]["metrics"]["m"]["details"]
    )
    assert other != picked[0]

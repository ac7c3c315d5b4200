"""Events read from a URL: `memory://` for the quick path, S3 served by moto on 127.0.0.1."""

from __future__ import annotations

import base64
import functools
import gzip
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pytest_trainloop.events import (
    EventLog,
    EventsNotFoundError,
    EventsUnreachableError,
    read_events,
)
from tests.conftest import Project, documented_event, flat_event, write_lines

# In-process runs inherit this suite's `filterwarnings = error`; the bad line must only warn.
WARN = ("-W", "default::pytest_trainloop.TrainloopWarning")
SECRET = "moto-test-secret-key-9f3a7c"  # the AWS secret key the S3 tests run with


def copy_folder(local: Path, url: str) -> None:
    """Every file under `local` put at the same path under `url`, byte for byte."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    for path in local.rglob("*"):
        if path.is_file():
            fs.pipe_file(f"{root}/{path.relative_to(local).as_posix()}", path.read_bytes())


def under_events(shown: str) -> str:
    """A file's path below its events folder, whichever folder or URL it was read from."""
    return shown.rsplit("/events/", 1)[1]


def as_read(log: EventLog) -> dict[str, Any]:
    """What a user gets from a log, without where its folder is."""
    return {
        "files": [under_events(str(f)) for f in log.files],
        "events": [
            (
                e.id,
                e.tags,
                e.timestamp,
                e.succeeded,
                e.raw,
                under_events(e.source.path),
                e.source.line,
            )
            for e in log.events
        ],
        "bad_lines": [
            (under_events(b.source.path), b.source.line, b.reason) for b in log.bad_lines
        ],
    }


def mixed_folder(data: Path) -> None:
    """A data folder with what a reader must get right: nested folders in order, `.gz` files,
    repeated ids and lines, a BOM, and bad lines of each kind (bad JSON, not UTF-8, a missing
    field, a cut-off last line, a cut-off `.gz`)."""
    events = data / "events"
    write_lines(
        events / "2024-01-15" / "app.jsonl",
        [
            documented_event("req_1"),
            b"{not json",
            documented_event("req_1", content="again"),
            b"\xff\xfe not utf-8",
            {"metadata": {"tags": ["greeting"]}},
            flat_event(),
            flat_event(),
        ],
    )
    (events / "2024-01-15" / "bom.jsonl").write_bytes(
        b"\xef\xbb\xbf"
        + write_lines(data / "tmp.jsonl", [documented_event("req_bom")]).read_bytes()
    )
    (data / "tmp.jsonl").unlink()
    write_lines(events / "2024-01-16.jsonl.gz", [documented_event("req_2", tags=["other"])])
    whole = write_lines(data / "whole.jsonl", [documented_event(f"gz_{n}") for n in range(200)])
    cut = gzip.compress(whole.read_bytes())
    whole.unlink()
    (events / "broken.jsonl.gz").write_bytes(cut[: len(cut) // 2])
    (events / "z-last.jsonl").write_bytes(b'{"timestamp": "2024-01-17T00:00:00Z", "inp')
    (events / "notes.txt").write_text("not an events file")
    # Read folder by folder, name by name: `q/` before `q-r.jsonl`, though "-" sorts before "/".
    write_lines(events / "q" / "r.jsonl", [documented_event("req_q_r")])
    write_lines(events / "q-r.jsonl", [documented_event("req_q-r")])
    write_lines(events / "run[1]*.jsonl", [documented_event("req_glob")])  # a name, no pattern


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A fresh folder of fsspec's in-memory filesystem, removed afterwards."""
    import fsspec

    url = f"memory://trainloop-{uuid.uuid4().hex}/data"
    yield url
    fs, root = fsspec.core.url_to_fs(url)
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_a_memory_copy_of_a_folder_reads_as_the_local_folder_does(
    data_folder: Path, memory_url: str
) -> None:
    mixed_folder(data_folder)
    copy_folder(data_folder, memory_url)
    local, remote = read_events(data_folder), read_events(memory_url)
    assert as_read(remote) == as_read(local)
    # Not an empty comparison: every kind of line made it through.
    assert len(local.events) > 6
    reasons = " | ".join(bad.reason for bad in local.bad_lines)
    for kind in ("not valid JSON", "not valid UTF-8", "missing", "truncated JSON", "further"):
        assert kind in reasons
    # Messages name the URL the line came from.
    assert f"{memory_url}/events/2024-01-15/app.jsonl:2: not valid JSON" in str(remote.bad_lines[0])
    assert remote.events_folder == f"{memory_url}/events"


def test_a_url_with_a_trailing_slash_names_the_same_files(
    memory_url: str, data_folder: Path
) -> None:
    write_lines(data_folder / "events" / "day1.jsonl", [documented_event("req_1")])
    copy_folder(data_folder, memory_url)
    log = read_events(memory_url + "/")
    assert log.files == [f"{memory_url}/events/day1.jsonl"]
    assert [str(e.source) for e in log.events] == [f"{memory_url}/events/day1.jsonl:1"]


def test_a_url_without_an_events_folder_is_an_error_naming_it(memory_url: str) -> None:
    with pytest.raises(EventsNotFoundError, match=rf"no events folder at {memory_url}/events"):
        read_events(memory_url)


def test_an_events_folder_without_events_files_is_an_error_naming_it(memory_url: str) -> None:
    import fsspec

    fsspec.filesystem("memory").pipe_file(f"{memory_url}/events/notes.txt", b"hello")
    with pytest.raises(
        EventsNotFoundError, match=rf"no \*\.jsonl or \*\.jsonl\.gz files in {memory_url}/events"
    ):
        read_events(memory_url)


# --- without the filesystem's package, or without fsspec -------------------------------------

MISSING = """
import sys
for name in sys.argv[2:]:
    sys.modules[name] = None  # as if not installed: importing it raises ImportError
from pytest_trainloop.events import EventsNotFoundError, read_events
try:
    read_events(sys.argv[1])
except EventsNotFoundError as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.parametrize(
    ("url", "blocked", "says"),
    [
        ("s3://bucket/prefix", ["s3fs"], ["Install s3fs", "pip install 'pytest-trainloop[s3]'"]),
        ("gs://bucket/prefix", ["gcsfs"], ["gcsfs", "pip install 'pytest-trainloop[gcs]'"]),
        ("az://container/prefix", ["adlfs"], ["adlfs", "pip install 'pytest-trainloop[azure]'"]),
        ("s3://bucket/prefix", ["fsspec"], ["needs fsspec", "pip install 'pytest-trainloop[s3]'"]),
    ],
)
def test_a_url_whose_filesystem_is_not_installed_names_the_url_and_what_to_install(
    url: str, blocked: list[str], says: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", MISSING, url, *blocked], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith(f"EventsUnreachableError cannot read {url}: ")
    for text in says:
        assert text in done.stdout


def test_a_scheme_no_filesystem_knows_is_an_error_naming_the_url() -> None:
    with pytest.raises(EventsUnreachableError, match=r"cannot read nosuch://somewhere: .*nosuch"):
        read_events("nosuch://somewhere")


def test_fsspec_is_imported_for_a_url_only(data_folder: Path) -> None:
    write_lines(data_folder / "events" / "day1.jsonl", [documented_event("req_1")])
    probe = (
        "import sys, pytest, pytest_trainloop.plugin\n"
        "from pytest_trainloop.events import read_events\n"
        "read_events(sys.argv[1])\n"
        "print('fsspec' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(data_folder)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


METRIC = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["greeting"])
def says_hello(event):
    assert event.response.startswith("Hello")
"""


def test_a_run_reads_its_events_from_the_data_folder_url_and_writes_results_locally(
    project: Project, memory_url: str, data_folder: Path
) -> None:
    # memory:// lives in one process: the run is in this one (pytester's default).
    write_lines(data_folder / "events" / "day1.jsonl", [documented_event("req_1"), b"{bad"])
    write_lines(
        data_folder / "events" / "day2.jsonl.gz", [documented_event("req_2", content="Bye")]
    )
    copy_folder(data_folder, memory_url)
    project.metrics(METRIC)
    result = project.run("--trainloop", "-v", "--trainloop-data-folder", memory_url, *WARN)
    result.assert_outcomes(passed=1, failed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            f"trainloop: data folder {memory_url} (from --trainloop-data-folder)",
            "trainloop: 2 events in 2 files, 1 bad lines",
            "*says_hello?req_1? PASSED*",
            "*says_hello?req_2? FAILED*",
            f"*1 bad line(s) in {memory_url}/events were skipped:",
        ]
    )
    # Results are written where the default data folder is, beside the project.
    data = project.results()
    assert data["configuration"]["data_folder"] == memory_url
    [bad] = data["bad_lines"]["lines"]
    assert bad.startswith(f"{memory_url}/events/day1.jsonl:2: not valid JSON")
    assert project.results_files()[0].parent == project.data / "results"


def test_a_data_folder_url_without_events_is_a_usage_error_naming_it(
    project: Project, memory_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.metrics(METRIC)
    monkeypatch.setenv("TRAINLOOP_DATA_FOLDER", memory_url)
    result = project.run("--trainloop")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: no events folder at {memory_url}/events: *"
            "(data folder from TRAINLOOP_DATA_FOLDER)"
        ]
    )


def test_a_password_in_the_url_is_never_shown() -> None:
    with pytest.raises(EventsNotFoundError) as raised:
        read_events("ftp://reader:hunter2-is-my-password@127.0.0.1:1/data")
    assert "hunter2" not in str(raised.value)
    assert "ftp://reader:[redacted]@127.0.0.1:1/data" in str(raised.value)


# --- a folder served over HTTP behind a login, on 127.0.0.1 ----------------------------------

LOGIN = ("reader", "http-folder-pass-7c1e")  # user, password, written into the data folder URL


class _LoginFolderHandler(SimpleHTTPRequestHandler):
    """A plain directory server (its listings are the HTML pages fsspec's HTTP filesystem
    reads) that answers 401 to a request without the login."""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        expected = base64.b64encode(":".join(LOGIN).encode()).decode()
        if self.headers.get("authorization") != f"Basic {expected}":
            self.send_error(401)
            return
        super().do_GET()

    do_HEAD = do_GET


@pytest.fixture
def http_folder(data_folder: Path) -> Iterator[str]:
    """`data_folder` served at this URL, the login written into it."""
    pytest.importorskip("aiohttp")  # fsspec's HTTP filesystem
    handler = functools.partial(_LoginFolderHandler, directory=str(data_folder.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    user, password = LOGIN
    yield f"http://{user}:{password}@127.0.0.1:{server.server_address[1]}/{data_folder.name}"
    server.shutdown()
    server.server_close()


RAISING_METRIC = """
import pytest

@pytest.mark.trainloop_suite("s", tags=["greeting"])
def says_hello(event):
    if not event.response.startswith("Hello"):
        raise ValueError(f"no greeting in {event.source}")
"""


@pytest.mark.parametrize("given", ["option", "env"])
def test_a_password_in_the_data_folder_url_is_written_nowhere(
    project: Project,
    data_folder: Path,
    http_folder: str,
    monkeypatch: pytest.MonkeyPatch,
    given: str,
) -> None:
    write_lines(
        data_folder / "events" / "day1.jsonl",
        [documented_event("req_1"), documented_event("req_2", content="Bye"), b"{bad"],
    )
    project.metrics(RAISING_METRIC)
    if given == "env":
        monkeypatch.setenv("TRAINLOOP_DATA_FOLDER", http_folder)
        where = []
    else:
        where = ["--trainloop-data-folder", http_folder]
    junit = project.path / "junit.xml"
    # Each worker reads the folder itself; -l --full-trace shows every frame's locals.
    result = project.pytester.runpytest_subprocess(
        "--trainloop", "-n", "2", "-p", "no:randomly", "-vv", "--tb=long", "-l",
        "--full-trace", f"--junitxml={junit}", *where,
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)
    written = {
        "terminal": result.stdout.str() + result.stderr.str(),
        "junit": junit.read_text(),
        "results": "".join(path.read_text() for path in project.results_files()),
    }
    for name, text in written.items():
        assert LOGIN[1][:8] not in text, f"the password in the {name}"
    # Still useful: the URL, but for its password, where the events were read and the bad line.
    shown = http_folder.replace(f":{LOGIN[1]}@", ":[redacted]@")
    assert f"trainloop: data folder {shown} (from " in written["terminal"]
    assert f"{shown}/events/day1.jsonl:3: not valid JSON" in written["terminal"]
    assert f"ValueError: no greeting in {shown}/events/day1.jsonl:2" in written["junit"]
    assert project.results()["configuration"]["data_folder"] == shown


# --- S3, served by moto on 127.0.0.1 -------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A standalone moto S3 server on a free loopback port, for this module's tests."""
    pytest.importorskip("s3fs")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str) -> None:
    """Dummy credentials and the loopback endpoint, as a CI job would set them; no file in the
    home folder, nor a proxy, takes part."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_S3",
        "HTTP_PROXY",
        "HTTPS_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "moto-test-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # one made with another endpoint would be reused


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_endpoint: str) -> Iterator[str]:
    """A fresh bucket on the moto server; its `s3://` URL."""
    aws_env(monkeypatch, tmp_path, moto_endpoint)
    import fsspec

    bucket = f"events-{uuid.uuid4().hex[:12]}"
    fs = fsspec.filesystem("s3")
    fs.mkdir(bucket)
    yield f"s3://{bucket}"
    fs.rm(bucket, recursive=True)


def test_events_in_s3_read_as_the_same_local_folder_with_bad_lines_and_gzip(
    data_folder: Path, s3: str
) -> None:
    mixed_folder(data_folder)
    copy_folder(data_folder, f"{s3}/team/prod")
    log = read_events(f"{s3}/team/prod")
    assert as_read(log) == as_read(read_events(data_folder))
    assert f"{s3}/team/prod/events/2024-01-16.jsonl.gz" in log.files
    assert (
        str(log.bad_lines[0])
        == f"{s3}/team/prod/events/2024-01-15/app.jsonl:2: " + log.bad_lines[0].reason
    )
    assert [e.raw for e in log.events if e.id == "req_2"] == [
        documented_event("req_2", tags=["other"])
    ]


def test_a_missing_bucket_is_an_error_naming_the_url(s3: str) -> None:
    missing = f"{s3}-missing/team"
    with pytest.raises(EventsNotFoundError) as raised:
        read_events(missing)
    message = str(raised.value)
    assert message.startswith(f"no events folder at {missing}/events (")
    assert "bucket does not exist" in message
    assert SECRET not in message


def test_a_prefix_without_events_is_an_error_naming_the_url(s3: str) -> None:
    with pytest.raises(EventsNotFoundError, match=f"no events folder at {s3}/nothing/events: "):
        read_events(f"{s3}/nothing")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens on it


def test_an_endpoint_error_holding_the_secret_shows_it_masked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("s3fs")
    # A gateway that takes its key in the path: the store's error repeats the endpoint URL.
    aws_env(monkeypatch, tmp_path, f"http://127.0.0.1:{free_port()}/{SECRET}")
    with pytest.raises(EventsUnreachableError) as raised:
        read_events("s3://bucket/team")
    message = str(raised.value)
    assert message.startswith("cannot list s3://bucket/team/events: EndpointConnectionError: ")
    assert SECRET not in message and "[redacted]" in message


def test_a_run_with_two_workers_reads_s3_and_never_shows_the_secret_key(
    project: Project, data_folder: Path, s3: str
) -> None:
    write_lines(data_folder / "events" / "day1.jsonl", [documented_event("req_1"), b"{bad"])
    write_lines(
        data_folder / "events" / "day2.jsonl.gz", [documented_event("req_2", content="Bye")]
    )
    copy_folder(data_folder, f"{s3}/prod")
    project.metrics(METRIC)
    # Each worker process reads the bucket itself, with the credentials of the environment.
    result = project.pytester.runpytest_subprocess(
        "--trainloop", "-n", "2", "-p", "no:randomly", "--trainloop-data-folder", f"{s3}/prod"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"trainloop: data folder {s3}/prod (from --trainloop-data-folder)",
            f"*{s3}/prod/events/day1.jsonl:2: not valid JSON*",
        ]
    )
    assert project.results()["configuration"]["data_folder"] == f"{s3}/prod"
    output = result.stdout.str() + result.stderr.str()
    assert SECRET not in output
    assert SECRET not in "".join(path.read_text() for path in project.results_files())


def test_a_missing_bucket_stops_the_run_with_a_usage_error_and_no_secret(
    project: Project, s3: str
) -> None:
    project.metrics(METRIC)
    missing = f"{s3}-missing/prod"
    result = project.pytester.runpytest_subprocess(
        "--trainloop", "--trainloop-data-folder", missing
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: no events folder at {missing}/events (*does not exist*"])
    assert SECRET not in result.stdout.str() + result.stderr.str()


def test_a_run_on_a_local_folder_never_imports_fsspec(project: Project) -> None:
    project.events([documented_event("req_1")])
    project.metrics(METRIC)
    project.pytester.makeconftest(
        "import sys\n\n"
        "def pytest_unconfigure():\n"
        "    print('fsspec imported:', 'fsspec' in sys.modules)\n"
    )
    result = project.pytester.runpytest_subprocess("--trainloop", "-s", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["fsspec imported: False"])

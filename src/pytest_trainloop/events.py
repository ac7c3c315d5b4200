"""Reading a data folder's events: every file in order, each line checked, each event an id.

Reading is the hot path (hundreds of thousands of lines). Each line goes through the gate
(`gate.py`: msgspec checks it in C while decoding only the fields we check); a line the gate
refuses is parsed with orjson and checked by `validation.check_event`, which names every
problem. Each good line becomes an `Event` that keeps where its line lies (`lines.py`); each bad
one a `BadLine` that says where and why.

The top of the events layers: lines <- event <- validation <- gate <- events. The public names
of all of them are here, for the plugin and for users.
"""

from __future__ import annotations

import errno
import gc
import gzip
import hashlib
import io
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from pytest_trainloop.event import BadLine, Event, Source, Usage, new_event
from pytest_trainloop.lines import EventFile, EventLineError, OpenFiles
from pytest_trainloop.redact import redacted_repr
from pytest_trainloop.remote import RemoteFolder, RemoteFolderError, is_url, shown_url
from pytest_trainloop.validation import EventKey, check_event, validate_event

__all__ = [
    "BadLine",
    "Event",
    "EventLineError",
    "EventLog",
    "EventsNotFoundError",
    "EventsUnreachableError",
    "Source",
    "Usage",
    "read_events",
    "validate_event",
]

# pytest leaves this module's frames out of a failing metric's traceback: an error met inside an
# event's attribute (a file cut during the run, say) is shown at the metric's own line, with
# its message; `--full-trace` shows them all.
__tracebackhide__ = True

_BOM = b"\xef\xbb\xbf"
_EVENT_FILE_NAMES = (".jsonl", ".jsonl.gz")
# A line's problems named in its reason: a line of 10,000 wrong messages needs no 10,000.
_PROBLEMS_NAMED = 5
# Characters that survive pytest's id escaping and `-k` expressions unchanged.
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")
_K_KEYWORDS = frozenset({"and", "or", "not", "True", "False", "None"})


class EventsNotFoundError(Exception):
    """The events folder is missing or holds no event file."""


class EventsUnreachableError(EventsNotFoundError):
    """The data folder is a URL whose filesystem is not installed, or that could not be listed
    (refused, unreachable); its message names the URL and what to install."""


@dataclass
class EventLog:
    """Everything read from one data folder (a URL's: `folder` and `files` are URLs)."""

    folder: Path | str
    files: list[Path | str]
    events: list[Event]
    bad_lines: list[BadLine]
    # The descriptors its events read their lines again through.
    open_files: OpenFiles = field(default_factory=OpenFiles, repr=False, compare=False)

    __repr__ = redacted_repr  # the folder's URL may hold a login

    @property
    def events_folder(self) -> str:
        """The events folder, as messages name it."""
        if isinstance(self.folder, Path):
            return str(self.folder / "events")
        return f"{shown_url(self.folder)}/events"

    def close(self) -> None:
        """Close the descriptors kept open for reading lines again (the end of a run)."""
        self.open_files.close()


def _content_hash(line: bytes) -> str:
    return hashlib.blake2b(line.strip(), digest_size=5).hexdigest()


def _safe_id(request_id: str) -> str:
    safe = _UNSAFE_ID_CHARS.sub("_", request_id)
    return f"ev-{safe}" if safe in _K_KEYWORDS else safe


def _line_error(line: bytes, at_end_of_file: bool, exc: orjson.JSONDecodeError) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not valid UTF-8 (byte 0x{line[bad.start]:02x} at column {bad.start + 1})"
    if _records_run_on_after_a_lone_cr(line):
        return "lines separated by a lone CR (old Mac line ends): JSON Lines needs LF or CRLF"
    if at_end_of_file:
        return "truncated JSON: the file ends in the middle of this line"
    return f"not valid JSON ({exc})"


def _records_run_on_after_a_lone_cr(line: bytes) -> bool:
    """Whether the line is records ended by a lone CR, read as one line (only LF ends a line):
    what comes before its first lone CR is a whole JSON document."""
    cr = line.find(b"\r")
    while cr != -1 and line[cr + 1 : cr + 2] == b"\n":
        cr = line.find(b"\r", cr + 1)
    if cr == -1:
        return False
    try:
        orjson.loads(line[:cr])
    except orjson.JSONDecodeError:
        return False  # cut short or broken before it: the CR is not what is wrong
    return True


def _target(link: Path) -> str:
    try:
        return os.readlink(link)
    except OSError:  # gone since it was listed
        return "?"


def _event_files(events_dir: Path) -> tuple[list[Path], list[BadLine]]:
    """The events files under `events_dir` in sorted path order, symbolic links followed; and
    the links that could not be followed, and folders that could not be listed.

    `Path.rglob` does not follow linked folders (before Python 3.13), so events linked in were
    left out without a word. A folder or file reached twice (two links to one folder, a link
    such as `latest.jsonl` beside its target) is read once, under the first of its paths in
    sorted order, so that no event is read twice. A link that loops or leads nowhere is named.
    """
    files: list[Path] = []
    problems: list[BadLine] = []
    root = os.stat(events_dir)
    taken = {(root.st_dev, root.st_ino)}  # every folder and file met so far

    def problem(path: Path, reason: str) -> None:
        problems.append(BadLine(Source(_display_path(path), 0), reason))

    # Depth first, each folder's entries sorted by name: the order of sorting the full paths.
    def walk(folder: Path, enclosing: frozenset[tuple[int, int]]) -> None:
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            problem(folder, f"cannot list this folder: {exc.strerror or exc}")
            return
        for entry in entries:
            link = entry.is_symlink()
            is_events_file = entry.name.endswith(_EVENT_FILE_NAMES)
            if not (link or is_events_file or entry.is_dir(follow_symlinks=False)):
                continue  # a file of another kind: no stat needed
            path = Path(entry.path)
            try:
                found = entry.stat()  # through links
            except OSError as exc:
                if link and exc.errno == errno.ELOOP:
                    problem(path, "a symbolic link loop (it leads back to itself): not followed")
                elif link and isinstance(exc, FileNotFoundError):
                    problem(path, f"a dangling symbolic link (to {_target(path)}): nothing to read")
                continue  # otherwise gone since it was listed
            identity = (found.st_dev, found.st_ino)
            if stat.S_ISDIR(found.st_mode):
                if identity in enclosing:
                    problem(path, "a symbolic link loop (to an enclosing folder): not followed")
                elif identity not in taken:
                    taken.add(identity)
                    walk(path, enclosing | {identity})
            elif is_events_file and stat.S_ISREG(found.st_mode) and identity not in taken:
                taken.add(identity)
                files.append(path)

    walk(events_dir, frozenset(taken))
    return files, problems


def _display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it, for short messages."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _Reader:
    """Reads files in order, giving each event an id unique within the whole folder."""

    def __init__(self, open_files: OpenFiles) -> None:
        self.open_files = open_files
        self.events: list[Event] = []
        self.bad_lines: list[BadLine] = []
        self._ids: set[str] = set()
        self._tags: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per distinct tags

    def _unique_id(self, request_id: str | None, line: bytes) -> str:
        if request_id:
            candidate = _safe_id(request_id)
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate
            # A repeated request_id keeps its readable prefix and gains the content's hash.
            candidate = f"{candidate}-{_content_hash(line)}"
        else:
            candidate = f"ev-{_content_hash(line)}"
        base, n = candidate, 1
        while candidate in self._ids:  # identical lines: numbered in reading order
            n += 1
            candidate = f"{base}-{n}"
        self._ids.add(candidate)
        return candidate

    def read_file(self, path: Path) -> None:
        """Read a local file; a `.gz` file's lines are kept (none can be reached by offset)."""
        gzipped = path.name.endswith(".gz")
        file = EventFile(path, _display_path(path), gzipped, self.open_files)

        def open_file() -> io.BufferedIOBase:
            return gzip.open(path, "rb") if gzipped else path.open("rb")

        self._read(file, open_file)

    def read_fetched(self, url: str, shown: str, data: bytes) -> None:
        """Read a remote file's bytes, fetched whole; its lines are kept (see `remote`)."""
        file = EventFile(url, shown, True, self.open_files)
        stream = io.BytesIO(data)

        def open_file() -> io.BufferedIOBase:
            return gzip.GzipFile(fileobj=stream) if url.endswith(".gz") else stream

        self._read(file, open_file)

    def _read(self, file: EventFile, open_file: Callable[[], io.BufferedIOBase]) -> None:
        from pytest_trainloop.gate import gate  # here: msgspec and its structs take 20 ms to load

        lineno = offset = 0
        try:
            with open_file() as lines:
                try:
                    for lineno, line in enumerate(lines, 1):
                        start = offset
                        offset += len(line)
                        if lineno == 1 and line.startswith(_BOM):
                            line = line[len(_BOM) :]
                            start += len(_BOM)
                        key = gate(line) or self._check_slowly(file.shown, lineno, line)
                        if key is not None:
                            request_id, tags, timestamp, succeeded = key
                            event_id = self._unique_id(request_id, line)
                            index = file.add(lineno, start, line)
                            tags = self._tags.setdefault(tags, tags)
                            self.events.append(
                                new_event(event_id, tags, timestamp, succeeded, file, index)
                            )
                finally:  # of what was read, even if reading broke off
                    if file.kept is None:
                        file.fingerprint(lines.fileno(), offset)
        except (OSError, EOFError, zlib.error) as exc:
            # A corrupt or cut-off .gz: keep what came before, say where it broke, go on.
            self.bad_lines.append(
                BadLine(Source(file.shown, lineno + 1), f"cannot read the file further: {exc}")
            )

    def _check_slowly(self, shown: str, lineno: int, line: bytes) -> EventKey | None:
        """Parse and check a line the gate refused; a bad line is noted with every problem."""
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if line.strip():
                reason = _line_error(line, not line.endswith(b"\n"), exc)
                self.bad_lines.append(BadLine(Source(shown, lineno), reason))
            return None
        errors: list[str] = []
        key = check_event(obj, errors)
        if key is None or errors:
            reason = "; ".join(errors[:_PROBLEMS_NAMED])
            if len(errors) > _PROBLEMS_NAMED:
                reason += f"; and {len(errors) - _PROBLEMS_NAMED} more"
            self.bad_lines.append(BadLine(Source(shown, lineno), reason))
            return None
        return key


_HINT = (
    "point pytest-trainloop at the folder that holds events/ with --trainloop-data-folder, "
    "the TRAINLOOP_DATA_FOLDER variable, the trainloop_data_folder ini key or "
    "'trainloop: data_folder:' in trainloop.config.yaml"
)


def read_events(data_folder: str | os.PathLike[str]) -> EventLog:
    """Read `events/**/*.jsonl[.gz]` under `data_folder`, in sorted path order, line order kept.

    `data_folder` may be a URL (`s3://bucket/prefix`, `gs://`, `az://`, `memory://`, any fsspec
    URL; see `remote`): its events are read the same way, with the same ids and bad lines.

    Bad lines are collected in the log, never raised; a missing or empty events folder raises
    `EventsNotFoundError` with a message that says how to point at the right one, and a URL
    that cannot be read at all `EventsUnreachableError`, which says why.
    """
    if is_url(data_folder):
        return _read_remote(str(data_folder))
    folder = Path(data_folder)
    events_dir = folder / "events"
    if not events_dir.is_dir():
        raise EventsNotFoundError(f"no events folder at {events_dir}: {_HINT}")
    files, unreachable = _event_files(events_dir)
    if not files:
        named = "".join(f"; {problem}" for problem in unreachable)
        raise EventsNotFoundError(f"no *.jsonl or *.jsonl.gz files in {events_dir}{named}: {_HINT}")
    reader = _Reader(OpenFiles())
    reader.bad_lines.extend(unreachable)
    with _no_collections():
        for path in files:
            reader.read_file(path)
    return EventLog(folder, list(files), reader.events, reader.bad_lines, reader.open_files)


def _read_remote(url: str) -> EventLog:
    try:
        remote = RemoteFolder(url)
        files = remote.events_files()
    except RemoteFolderError as exc:
        raise EventsUnreachableError(str(exc)) from None
    events_dir = f"{remote.shown}/events"
    if files is None:
        why = f" ({remote.missing})" if remote.missing else ""
        raise EventsNotFoundError(f"no events folder at {events_dir}{why}: {_HINT}")
    if not files:
        raise EventsNotFoundError(f"no *.jsonl or *.jsonl.gz files in {events_dir}: {_HINT}")
    reader = _Reader(OpenFiles())
    with _no_collections():
        fetched = remote.fetch([path for path, _ in files])
        for (path, shown), (data, problem) in zip(files, fetched, strict=True):
            if data is None:
                reader.bad_lines.append(BadLine(Source(shown, 0), problem))
            else:
                reader.read_fetched(path, shown, data)
    return EventLog(
        url, [shown for _, shown in files], reader.events, reader.bad_lines, reader.open_files
    )


@contextmanager
def _no_collections() -> Iterator[None]:
    """The garbage collector off while events are read. Events hold no reference cycles, yet
    allocation bursts would trigger full collections over everything kept so far: measured at
    +40% read time on 100k events."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc_was_enabled:
            gc.enable()

"""The line store: where each event's line lies in its file, and reading it again.

An `Event` keeps where its line lies, not the line: holding every line would cost a run the size
of its files in memory. This module reads a line again when it is asked for, from a block read
ahead, through a bounded set of descriptors that the log owns and closes; and it refuses, with
`EventLineError`, a line whose file was cut or rewritten since it was read.

At the bottom with `timestamps`: imports nothing of ours, and no pytest.
"""

from __future__ import annotations

import os
import threading
from array import array
from pathlib import Path
from zlib import crc32

# pytest leaves this module's frames out of a failing metric's traceback: an error met inside an
# event's attribute (a file cut during the run, say) is shown at the metric's own line, with
# its message; `--full-trace` shows them all.
__tracebackhide__ = True

# Descriptors kept open per log: bounded, so that a folder of thousands of files never runs the
# process out of descriptors (nor holds a read-ahead block for each).
_MAX_OPEN_FILES = 32
# Lines are read again in file order (a metric's cases, a chunk), so a block is read at once:
# one pread per line cost 2-3 µs, as much as half of parsing the line.
_READ_AHEAD = 256 * 1024
_NO_BLOCK = (0, b"")
_TAIL = 4096  # bytes at the end of what was read that an append must leave as they were


class EventLineError(Exception):
    """An event's line could not be read or parsed again after the folder was first read."""


class OpenFiles:
    """The descriptors of one log's events files, oldest use first, at most `_MAX_OPEN_FILES`.

    Owned by the log, which closes them at the end of a run (`EventLog.close`); a line asked for
    after that opens its file again. `lock` keeps a metric's threads from closing a descriptor
    another is reading through.
    """

    __slots__ = ("_fds", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._fds: dict[EventFile, int] = {}

    def descriptor(self, file: EventFile) -> int:
        """An open descriptor of `file`, or -1 with `file.changed` set if another file took
        its path. Called with `lock` held."""
        fds = self._fds
        fd = fds.pop(file, None)  # put back below as the most recent
        if fd is None:
            if len(fds) >= _MAX_OPEN_FILES:
                oldest = next(iter(fds))
                os.close(fds.pop(oldest))
                oldest.block = _NO_BLOCK
            try:
                fd = os.open(file.path, os.O_RDONLY)
            except OSError as exc:
                raise EventLineError(f"{file.shown}: cannot open it again: {exc}") from None
            found = os.fstat(fd)
            if (found.st_dev, found.st_ino) != file.identity:
                os.close(fd)
                file.changed = "replaced by another file"
                return -1  # no descriptor: the file at this path is another one
        fds[file] = fd
        return fd

    def close(self) -> None:
        """Close every descriptor (and drop the blocks read through them)."""
        with self.lock:
            while self._fds:
                file, fd = self._fds.popitem()
                os.close(fd)
                file.block = _NO_BLOCK


class EventFile:
    """One events file as read: its name for messages and where each event's line lies in it.

    Events of a plain file keep only their line's offset and length (16 bytes) and read the line
    again when it is asked for. Lines of a `.gz` file cannot be reached by offset, nor those of a
    remote file (a URL's) but by a request per block, so they are kept. A line read again comes
    from a block read ahead, which holds what the file said when it was read.

    A line read again must hold the bytes read at collection. The file may grow (appending is
    fine), but not be replaced, cut or rewritten: each block read again is checked against a
    fingerprint of the file taken at collection (see `_change`). A hash of every line would be
    exact, but cost 9-18% of reading time on 100k events (bench/read_events.py).
    """

    __slots__ = (
        "block",
        "changed",
        "identity",
        "kept",
        "lengths",
        "linenos",
        "offsets",
        "open_files",
        "path",
        "seen",
        "shown",
        "size",
        "tail",
    )

    def __init__(
        self, path: Path | str, shown: str, keep_lines: bool, open_files: OpenFiles
    ) -> None:
        self.path = path
        self.shown = shown
        self.open_files = open_files
        self.linenos = array("q")  # by event index within this file
        self.offsets = array("q")
        self.lengths = array("q")
        self.kept: list[bytes] | None = [] if keep_lines else None
        self.block = _NO_BLOCK  # (offset, bytes) read ahead from the file
        # The fingerprint: (device, inode), the bytes read, a CRC-32 of the last of them, and
        # the (size, mtime_ns) last found to hold them.
        self.identity = (0, 0)
        self.size = 0
        self.tail = 0
        self.seen = (0, 0)
        self.changed = ""  # how the file changed, once found: its lines are not read again

    def add(self, lineno: int, offset: int, line: bytes) -> int:
        """Note where an event's line is; returns the event's index within this file."""
        self.linenos.append(lineno)
        if self.kept is not None:
            self.kept.append(line)
        else:
            self.offsets.append(offset)
            self.lengths.append(len(line))
        return len(self.linenos) - 1

    def fingerprint(self, fd: int, size: int) -> None:
        """Take the file's fingerprint once its `size` bytes are read."""
        found = os.fstat(fd)
        self.identity, self.size = (found.st_dev, found.st_ino), size
        self.tail = self._tail_crc(fd)
        # Grown while it was read: its mtime says nothing of the bytes read, the tail will.
        self.seen = (size, found.st_mtime_ns if found.st_size == size else -1)

    def _tail_crc(self, fd: int) -> int:
        start = max(0, self.size - _TAIL)
        return crc32(os.pread(fd, self.size - start, start))

    def line(self, index: int) -> bytes:
        """The line of the event at `index`, as read at collection."""
        if self.kept is not None:
            return self.kept[index]
        offset, length = self.offsets[index], self.lengths[index]
        start, block = self.block
        at = offset - start
        if at < 0 or at + length > len(block):
            with self.open_files.lock:
                if not self.changed:
                    block = self._read_again(offset, max(length, _READ_AHEAD))
                    if len(block) < length and not self.changed:
                        self.changed = "cut short"
            if self.changed:
                raise EventLineError(
                    f"{self.shown}:{self.linenos[index]}: the file changed since collection "
                    f"({self.changed}): its events can no longer be read (events files may be "
                    "appended to during a run, not rewritten)"
                )
            self.block, at = (offset, block), 0
        return block[at : at + length]

    def _read_again(self, offset: int, size: int) -> bytes:
        """The file's bytes at `offset`, or b"" with `changed` set if the file changed."""
        fd = self.open_files.descriptor(self)
        if fd < 0:
            return b""
        block = os.pread(fd, size, offset)
        # Checked after the read: a change during it shows in the file's size or mtime.
        self.changed = self._change(fd)
        return block

    def _change(self, fd: int) -> str:
        """How the file changed since collection, "" if it did not (as far as a fingerprint can
        tell): cut below the bytes read; rewritten, as its mtime changed with its size the same,
        or as it grew and the last bytes read are no longer the same. An append leaves those.
        Missed: a rewrite that grew the file and left them, and one of the same size within the
        clock's step (a few ms) of the file's last write before collection."""
        found = os.fstat(fd)
        now = (found.st_size, found.st_mtime_ns)
        if now == self.seen:
            return ""
        if found.st_size < self.size:
            return "cut short"
        if found.st_size == self.size or self._tail_crc(fd) != self.tail:
            return "rewritten"
        self.seen = now
        return ""

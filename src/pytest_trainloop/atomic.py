"""Files written whole or not at all, and what a write killed half-way leaves behind.

Used by the results, the reports and the judge's cache. At the bottom: imports nothing of
ours, and no pytest.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

# `write_atomically`'s temporary files: mkstemp's 8 random characters between our prefix and
# suffix. Exactly this, so that a stale one is ours to remove and nothing else is.
_TEMP_PREFIX, _TEMP_SUFFIX = ".tmp-", ".json"
_TEMP_NAME = re.compile(r"\.tmp-[a-z0-9_]{8}\.json")
_BUFFER = 1 << 20


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it, so it is read once, at import
    os.umask(mask)
    return mask


# mkstemp makes a file only its owner may read; results and cached answers are for the team's
# dashboards and runs too, so they get the mode any new file gets.
_NEW_FILE_MODE = 0o666 & ~_umask()


def write_atomically(path: Path, data: bytes, exclusive: bool = False) -> Path:
    """Write through a temporary file so that readers never see half a file; returns the path.

    With `exclusive`, an existing file is never replaced: `name_2.json`, `name_3.json`, ... are
    tried instead (two runs in the same second both keep their results).
    """
    return stream_atomically(path, lambda out: out.write(data), exclusive)


def stream_atomically(
    path: Path, write: Callable[[IO[bytes]], object], exclusive: bool = False
) -> Path:
    """`write_atomically` for a file written piece by piece: `write` is given the temporary
    file, and the file takes its place only once `write` returned."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
    os.fchmod(fd, _NEW_FILE_MODE)
    try:
        with os.fdopen(fd, "wb", buffering=_BUFFER) as out:
            write(out)
        if not exclusive:
            os.replace(tmp, path)
            return path
        target, n = path, 1
        while True:
            try:
                os.link(tmp, target)  # fails if target exists: no run overwrites another
                return target
            except FileExistsError:
                n += 1
                target = path.with_name(f"{path.stem}_{n}{path.suffix}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_stale_temp_files(folder: Path, before: float) -> None:
    """Remove the temporary files a write killed half-way left in `folder`: ours by their exact
    name, and last written before `before` (seconds since the epoch: the run's start, for the
    results), so that a write going on now, of another run or process, keeps its file."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not _TEMP_NAME.fullmatch(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < before:
                os.unlink(entry.path)
        except OSError:
            continue  # gone already, or not ours to remove: nothing lost either way

"""The judge's answer cache: one small JSON file per answer, written atomically.

One file per answer keeps concurrent xdist workers from ever writing the same file with
different content (a key names one answer), keeps a run killed mid-write harmless (a temporary
file is renamed into place or left aside), and keeps `git diff` readable when the cache is
committed so that CI can replay every verdict offline.

A temporary file a killed write left aside is never read (an entry is read by its key's name
alone) and is removed by the next write into its folder, where the entry it never became is
written when its answer is asked again: the cache folder stays fit to commit.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from pathlib import Path
from typing import Any

import orjson

from pytest_trainloop import TrainloopWarning
from pytest_trainloop.atomic import remove_stale_temp_files, write_atomically

MODES = ("use", "refresh", "off", "replay")
# Seconds after which a temporary file is a killed write's, not one going on: a write takes
# milliseconds, but other processes (xdist workers, other runs, other machines on a shared
# folder, whose clocks may be off by minutes) write into the same folders at any time, so no
# run's start can tell. An hour: a leftover costs a few bytes until then.
STALE_AFTER = 3600.0


class JudgeCacheMissError(Exception):
    """Replay mode found no recorded answer for a call."""


class JudgeCache:
    def __init__(self, folder: Path, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"judge cache mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.folder = folder
        self.mode = mode
        self._swept: set[Path] = set()  # folders cleared of stale temporary files by `put`

    @staticmethod
    def key(model: str, prompt: str, temperature: float, sample: int) -> str:
        """Everything that can change an answer, hashed (the provider is in `model`)."""
        material = orjson.dumps([model, prompt, temperature, sample])
        return hashlib.sha256(material).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry recorded for `key`, or None: absent, or damaged (cut short, edited by
        hand, no `answer` text), which a warning names; the caller then asks again and `put`
        rewrites it."""
        if self.mode in ("off", "refresh"):
            return None
        path = self._path(key)
        try:
            entry = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as exc:
            problem = f"cannot be read ({exc})"
        else:
            if isinstance(entry, dict) and isinstance(entry.get("answer"), str):
                return entry
            problem = "holds no answer text"
        then = "replay mode cannot ask again" if self.mode == "replay" else "asked again"
        # Not an error: the entry is only a recording, and the model can answer again.
        warnings.warn(TrainloopWarning(f"judge cache entry {path} {problem}: {then}"), stacklevel=1)
        return None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        if self.mode == "off":
            return
        data = orjson.dumps(entry, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        path = self._path(key)
        if path.parent not in self._swept:  # once per folder: a run writes many entries
            remove_stale_temp_files(path.parent, time.time() - STALE_AFTER)
            self._swept.add(path.parent)
        write_atomically(path, data)

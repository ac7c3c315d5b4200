"""Events folders behind a URL (`s3://`, `gs://`, `az://`, `memory://`, any fsspec URL).

fsspec is an optional dependency, imported here only when a data folder is a URL: never at
pytest's start-up, never for a local folder. Credentials come from each filesystem's usual places
(environment variables, `~/.aws`, application default credentials, ...) and fsspec's own
configuration (`FSSPEC_S3_ENDPOINT_URL`, `~/.config/fsspec/`); we pass none and print none: every
error text we show goes through `redact`, since a filesystem's message may hold its endpoint URL
and whatever credentials that carries.

Each file is fetched whole, a batch of files at a time (async filesystems fetch a batch
concurrently): one request per file, where reading lines again by offset later would cost one
request per block read, and an object can be overwritten between collection and the metric with
no inode to tell. The reader keeps the lines, as for `.gz` files.

Pure and at the bottom beside `lines`: imports only `redact`, and no pytest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pytest_trainloop import redact

# `scheme://`, chained schemes too (`simplecache::s3://`); two letters at least, so that a
# Windows drive (`C://data`) is a path.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+(?:::[A-Za-z][A-Za-z0-9+.\-]+)*://")
# The extra that installs each filesystem (fsspec itself is in every one).
_EXTRAS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
}
_FETCHED_AT_ONCE = 16  # files per request batch: concurrency, with the memory of a few files
_GLOB_CHARS = re.compile(r"[*?\[]")  # `fs.cat` of several paths expands these as patterns


class RemoteFolderError(Exception):
    """A URL's filesystem is not installed, or its folder could not be listed."""


def is_url(folder: object) -> bool:
    """Whether a data folder is a URL (`scheme://...`) rather than a local path."""
    return isinstance(folder, str) and _URL.match(folder) is not None


def shown_url(url: str) -> str:
    """The URL as messages show it: a password written into it (`ftp://me:pw@host`) masked, and
    registered with `redact` so that a filesystem's error repeating it is masked too."""
    redact.register_url(url)
    return redact.mask_url_logins(url)


def _error_text(exc: BaseException) -> str:
    return redact.redact(str(exc) or type(exc).__name__)


def _install_hint(url: str) -> str:
    schemes = url.split("://", 1)[0].lower().split("::")
    extra = next((_EXTRAS[s] for s in schemes if s in _EXTRAS), "remote")
    return f"pip install 'pytest-trainloop[{extra}]'"


class RemoteFolder:
    """A data folder behind a URL: the events files under it, and their bytes."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.shown = shown_url(self.url)
        try:
            import fsspec.core
        except ImportError:
            raise RemoteFolderError(
                f"cannot read {self.shown}: reading events from a URL needs fsspec and the "
                f"filesystem of its scheme: {_install_hint(url)}"
            ) from None
        try:
            self._fs, root = fsspec.core.url_to_fs(self.url)
        except ImportError as exc:  # fsspec's message names the filesystem's package
            raise RemoteFolderError(
                f"cannot read {self.shown}: its filesystem is not installed "
                f"({_error_text(exc)}): {_install_hint(url)}"
            ) from None
        except Exception as exc:  # an unknown scheme; a server that some filesystems dial now
            raise RemoteFolderError(
                f"cannot read {self.shown}: {type(exc).__name__}: {_error_text(exc)}"
            ) from None
        self._events = f"{root.rstrip('/')}/events"
        self.missing = ""  # why there is no events folder, if the store said (no such bucket)

    def events_files(self) -> list[tuple[str, str]] | None:
        """`(path, shown)` of each `*.jsonl[.gz]` under events/, in the order of sorting their
        paths name by name, as local folders are walked; None when there is no events folder
        (nor, in an object store, any object under it)."""
        fs: Any = self._fs
        fs.invalidate_cache()  # a listing cached by an earlier read in this process is stale
        try:
            found: list[str] = fs.find(self._events)
            if not found and not fs.isdir(self._events):
                return None
        except FileNotFoundError as exc:  # the bucket, or the folder of a filesystem with folders
            self.missing = _error_text(exc)
            return None
        except Exception as exc:  # refused, unreachable, no credentials: what the store said
            raise RemoteFolderError(
                f"cannot list {self.shown}/events: {type(exc).__name__}: {_error_text(exc)}"
            ) from None
        prefix = f"{self._events}/"
        relative = sorted(
            (path[len(prefix) :] for path in found if path.startswith(prefix)),
            key=lambda path: path.split("/"),
        )
        return [
            (prefix + path, f"{self.shown}/events/{path}")
            for path in relative
            if path.endswith((".jsonl", ".jsonl.gz"))
        ]

    def fetch(self, paths: list[str]) -> Iterator[tuple[bytes | None, str]]:
        """Each file's bytes in order, or None and why it could not be read."""
        fs: Any = self._fs
        for start in range(0, len(paths), _FETCHED_AT_ONCE):
            batch = paths[start : start + _FETCHED_AT_ONCE]
            # A name such as `run[1].jsonl` is fetched on its own, by name.
            plain = [path for path in batch if not _GLOB_CHARS.search(path)]
            try:
                got: dict[str, Any] = fs.cat(plain, on_error="return") if plain else {}
            except Exception as exc:
                got = dict.fromkeys(plain, exc)
            for path in batch:
                data = got[path] if path in got else self._fetch_one(path)
                if isinstance(data, bytes):
                    yield data, ""
                else:
                    yield None, f"cannot read the file: {_error_text(data)}"

    def _fetch_one(self, path: str) -> bytes | Exception:
        try:
            data: bytes = self._fs.cat_file(path)
        except Exception as exc:
            return exc
        return data

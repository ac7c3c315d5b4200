"""trainloop.config.yaml and where the data folder is: one rule for pytest and the judge alike.

Pure and at the bottom: no pytest, and of ours only `remote`'s test of a URL (no fsspec; the
data folder may be a URL, `s3://bucket/prefix`, that `events` reads). `settings` reads the
options of a pytest run through it (and turns a `ConfigFileError` into a `pytest.UsageError`);
the judge, usable outside pytest, reads its `judge:` mapping and its cache folder through it too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pytest_trainloop.remote import is_url, shown_url

CONFIG_FILE = "trainloop.config.yaml"
DATA_FOLDER_VARIABLE = "TRAINLOOP_DATA_FOLDER"


class ConfigFileError(ValueError):
    """The config file, or a source of the data folder, is wrong; the message names it."""


def load_config_file(path: Path) -> dict[str, Any]:
    """The `trainloop:` mapping of trainloop.config.yaml ({} when the file does not exist)."""
    if not path.is_file():
        return {}
    import yaml  # only when there is a file to read: yaml costs ~10 ms to import

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path} is not valid YAML: {exc}") from None
    if document is None:
        return {}
    section = document.get("trainloop") if isinstance(document, dict) else None
    if not isinstance(section, dict):
        raise ConfigFileError(f"{path} must hold a mapping under the key 'trainloop:'")
    return section


def judge_section(file_options: dict[str, Any], path: Path) -> dict[str, Any]:
    """The `judge:` mapping of the config file read from `path` ({} without one)."""
    section = file_options.get("judge")
    if section is not None and not isinstance(section, dict):
        raise ConfigFileError(f"'judge:' in {path} must be a mapping, got {section!r}")
    return section or {}


def resolve_data_folder(
    config_path: Path,
    file_options: dict[str, Any],
    *,
    cwd: Path,
    option: str | None = None,
    ini: str | None = None,
    ini_dir: Path | None = None,
    default_source: str = "the default, data/ beside trainloop.config.yaml",
) -> tuple[Path | str, str]:
    """The folder holding events/ (and results/, judge_cache/), and the source that named it.

    Precedence: `option` (the command line) > $TRAINLOOP_DATA_FOLDER, both relative to `cwd` >
    `ini` (the trainloop_data_folder ini key, relative to `ini_dir`) > `data_folder` in the
    config file read from `config_path` (`file_options`), relative to that file > data/ beside
    it. Outside pytest there is neither command line nor ini file: leave `option` and `ini` out.
    A source that is given but empty, names a file or a missing folder is an error, not skipped.

    A URL (`s3://bucket/prefix`, any fsspec URL) is returned as it was given, a string, unchecked:
    `read_events` says what is wrong with it, naming it; its results/ and judge_cache/ are local
    (`local_data_folder`).
    """
    candidates: list[tuple[object, Path, str]] = [
        (option, cwd, "--trainloop-data-folder"),
        (os.environ.get(DATA_FOLDER_VARIABLE) or None, cwd, DATA_FOLDER_VARIABLE),
        (ini or None, ini_dir or config_path.parent, "the trainloop_data_folder ini key"),
        (file_options.get("data_folder"), config_path.parent, f"data_folder in {config_path}"),
    ]
    for value, base, source in candidates:
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise ConfigFileError(
                f"{source} must name the folder that holds events/, got {value!r}"
            )
        if is_url(value):
            return value.strip(), source
        folder = base / Path(value).expanduser()
        if folder.is_file():
            raise ConfigFileError(f"{source} names a file, not a folder: {folder}")
        if not folder.exists():
            raise ConfigFileError(f"{source} names a folder that does not exist: {folder}")
        return folder, source
    return config_path.parent / "data", default_source


def local_data_folder(data_folder: Path | str, config_path: Path) -> Path:
    """Where results/ and judge_cache/ are written: the data folder, or for a URL (whose events
    are read, not written) data/ beside the config file, as when no data folder is named."""
    return data_folder if isinstance(data_folder, Path) else config_path.parent / "data"


def shown_data_folder(data_folder: Path | str) -> str:
    """The data folder as messages and results files show it (a password in a URL masked)."""
    return str(data_folder) if isinstance(data_folder, Path) else shown_url(data_folder)

"""The judge's `.env` file (`env_path:`): its variables fill only what is not set already."""

from __future__ import annotations

import os
from pathlib import Path

from pytest_trainloop.redact import looks_like_credential, register


def load_env_file(path: Path) -> None:
    """KEY=VALUE lines into the environment; variables already set are never overridden.

    A few lines of our own rather than a dependency: comments, `export`, and quotes are all
    the judge's keys and base URLs need.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if looks_like_credential(name):  # masked even if the environment's value wins
            register(value)
        os.environ.setdefault(name, value)

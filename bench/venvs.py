"""Venvs the benchmarks run in, built once under `bench/bench-data/venvs/` and reused (built
again when `pyproject.toml` or `src/` changes).

A benchmark of what a user pays runs where a user runs: a venv with pytest and this project
(`pip install .`), not the development venv, whose test tools (pytest-asyncio, pytest-randomly,
anyio's plugin, pytest-xdist) each load a pytest plugin at every start-up.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENVS = HERE / "bench-data" / "venvs"


def pinned_pytest() -> str:
    """The running pytest's version, pinned on every side of a comparison."""
    return f"pytest=={version('pytest')}"


def user_venv() -> Path:
    """The python of a venv holding what `pip install pytest-trainloop` gives: pytest and us."""
    return build("plugin", [pinned_pytest(), str(ROOT)])


def build(name: str, packages: list[str]) -> Path:
    """The python of venv `name`, made now unless one made from the same sources is there."""
    folder = VENVS / name
    python = folder / "bin" / "python"
    stamp = hashlib.sha256(repr(packages).encode())
    for source in [ROOT / "pyproject.toml", *sorted((ROOT / "src").rglob("*.py"))]:
        stamp.update(source.read_bytes())
    marker = folder / "bench-stamp"
    if marker.exists() and marker.read_text() == stamp.hexdigest():
        return python
    print(f"building the {name} venv ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *packages],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker.write_text(stamp.hexdigest())
    return python


def clean_env(dont_write_bytecode: bool) -> dict[str, str]:
    """The caller's environment without what could add or remove plugins on one side only, and
    with bytecode files written (as by default) unless asked otherwise: with
    PYTHONDONTWRITEBYTECODE=1 pytest rewrites and compiles every plugin module in every run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if dont_write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env

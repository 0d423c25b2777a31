"""Where the data files that ship with Opsloom live.

`schemas/`, `examples/` and `alembic.ini` sit at the top of the repository and
are copied into the wheel under `opsloom/_data/`. Both layouts are resolved
here, so a source checkout, an editable install and an installed wheel find
them the same way.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_path(name: str) -> Path:
    """Path of a shipped data file or folder (`schemas`, `examples`, `alembic.ini`)."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"Opsloom data '{name}' is missing from this installation")


def node_modules_path() -> Path | None:
    """The repository's `node_modules` (filled by `npm ci`), or None: a wheel ships no npm packages."""
    candidate = _PACKAGE.parent / "node_modules"
    return candidate if candidate.is_dir() else None


def migrations_path() -> Path:
    return _PACKAGE / "platform" / "migrations"

"""Uploaded files on disk: random names in sharded folders, written in chunks under a size limit.

A file's name on disk never comes from the user: it is `ab/cd/abcd...` (32 random
hex digits), so an upload can neither choose where it lands nor meet another.
What a file is called, who sent it and where it belongs lives in the
`opsloom_files` table. A file is written to `<name>.part` first and moved into
place when complete, so a half-written upload never looks like a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anyio
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

_KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}")
_VARIANT = re.compile(r"[a-z][a-z0-9]{0,15}")


class FileTooLarge(Exception):
    """More bytes arrived than the limit allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


class FileStore:
    """The folder of uploaded files (`OPSLOOM_DATA_DIR/files`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):  # keys come from the database, but never trust a path blindly
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    def variant(self, key: str, name: str) -> Path:
        """Where a copy of the file made from it is kept (a smaller size of a picture): next to it."""
        if not _VARIANT.fullmatch(name):
            raise ValueError(f"not a variant name: {name!r}")
        path = self.path(key)
        return path.with_name(f"{path.name}~{name}")

    def describe(self, key: str) -> StoredFile:
        """A stored file's size and SHA-256, read from disk (after it was rewritten in place)."""
        digest = hashlib.sha256()
        with open(self.path(key), "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
            size = handle.tell()
        return StoredFile(key, size, digest.hexdigest())

    def writer(self, limit: int) -> FileWriter:
        name = secrets.token_hex(16)
        return FileWriter(self, f"{name[:2]}/{name[2:4]}/{name}", limit)

    def remove(self, keys: Iterable[str]) -> None:
        for key in keys:
            path = self.path(key)
            path.unlink(missing_ok=True)
            for variant in path.parent.glob(f"{path.name}~*") if path.parent.is_dir() else ():
                variant.unlink(missing_ok=True)

    def remove_after_commit(self, session: AsyncSession, keys: Iterable[str]) -> None:
        """Remove files once the transaction that deleted their rows commits (never before:
        a rolled-back delete must still find its files)."""
        pending = list(keys)
        if pending:
            event.listen(session.sync_session, "after_commit", lambda _session: self.remove(pending), once=True)


class FileWriter:
    """One file being written: `write` chunks, then `finish`; `discard` removes what was written."""

    def __init__(self, store: FileStore, key: str, limit: int) -> None:
        self.key = key
        self.limit = limit
        self.size = 0
        self.finished = False
        self._target = store.path(key)
        self._partial = self._target.with_name(self._target.name + ".part")
        self._hash = hashlib.sha256()
        self._handle: IO[bytes] | None = None

    async def write(self, chunk: bytes) -> None:
        if self.size + len(chunk) > self.limit:
            raise FileTooLarge(self.limit)
        self.size += len(chunk)
        await anyio.to_thread.run_sync(self._write, chunk)

    async def finish(self) -> StoredFile:
        await anyio.to_thread.run_sync(self._finish)
        self.finished = True
        return StoredFile(self.key, self.size, self._hash.hexdigest())

    def discard(self) -> None:
        self._close()
        self._partial.unlink(missing_ok=True)
        self._target.unlink(missing_ok=True)

    def _open(self) -> IO[bytes]:
        if self._handle is None:
            self._partial.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self._partial, "xb")  # noqa: SIM115 - closed by _finish or discard
        return self._handle

    def _write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._open().write(chunk)

    def _finish(self) -> None:
        handle = self._open()
        handle.flush()
        os.fsync(handle.fileno())
        self._close()
        os.replace(self._partial, self._target)

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __repr__(self) -> str:
        return f"FileWriter({self.key!r}, {self.size} bytes)"

"""An app's named secrets: credentials an automation's HTTP request refers to as `{{secret.name}}`.

Values are encrypted at rest with AES-GCM under a key derived from the platform's
secret key (`OPSLOOM_SECRET_KEY`), bound to the app and the name (so a value
copied to another row does not decrypt). The API lists names, never values; the
worker decrypts a value only when it sends a request.
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import datetime
from typing import Any

import regex
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables

REFERENCE = regex.compile(r"\{\{\s*secret\.([a-z][a-z0-9_]{0,62})\s*\}\}")
NAME = regex.compile(r"^[a-z][a-z0-9_]{0,62}$")
MASK = "••••••"


class SecretMissing(Exception):
    """A `{{secret.name}}` names no secret of the app (or it no longer decrypts)."""


def _key(platform_key: str) -> bytes:
    return hashlib.sha256(b"opsloom-secrets\x00" + platform_key.encode()).digest()


def seal(platform_key: str, app: str, name: str, value: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(platform_key)).encrypt(nonce, value.encode(), f"{app}/{name}".encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(platform_key: str, app: str, name: str, stored: str) -> str:
    raw = base64.b64decode(stored)
    try:
        return AESGCM(_key(platform_key)).decrypt(raw[:12], raw[12:], f"{app}/{name}".encode()).decode()
    except InvalidTag:
        raise SecretMissing(f"secret {name!r} does not decrypt with this server's secret key") from None


async def names(session: AsyncSession, app: str) -> list[dict[str, Any]]:
    s = tables.app_secrets
    rows = await session.execute(
        select(s.c.name, s.c.created_at, s.c.updated_at).where(s.c.app_key == app).order_by(s.c.name)
    )
    return [{"name": r.name, "created_at": r.created_at, "updated_at": r.updated_at} for r in rows]


async def put(session: AsyncSession, platform_key: str, app: str, name: str, value: str, now: datetime) -> bool:
    """Store a secret; answer whether it is new."""
    s = tables.app_secrets
    sealed = seal(platform_key, app, name, value)
    changed = await session.execute(
        update(s).where(s.c.app_key == app, s.c.name == name).values(value=sealed, updated_at=now)
    )
    if changed.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(insert(s).values(app_key=app, name=name, value=sealed, created_at=now, updated_at=now))
    return True


async def remove(session: AsyncSession, app: str, name: str) -> bool:
    s = tables.app_secrets
    done = await session.execute(delete(s).where(s.c.app_key == app, s.c.name == name))
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def reveal(session: AsyncSession, platform_key: str, app: str, wanted: set[str]) -> dict[str, str]:
    """The plain values of the named secrets (all must exist)."""
    if not wanted:
        return {}
    s = tables.app_secrets
    rows = await session.execute(select(s.c.name, s.c.value).where(s.c.app_key == app, s.c.name.in_(sorted(wanted))))
    found = {name: unseal(platform_key, app, name, value) for name, value in rows}
    missing = sorted(wanted - set(found))
    if missing:
        raise SecretMissing(f"the app has no secret named {', '.join(missing)}")
    return found


def referenced(text: str) -> set[str]:
    return set(REFERENCE.findall(text))


def fill(text: str, values: dict[str, str] | None) -> str:
    """Put secrets' values in place of their references (None: a mask, for showing)."""
    return REFERENCE.sub(lambda m: MASK if values is None else values[m[1]], text)

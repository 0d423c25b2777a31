"""The stored run-time settings: read through a per-process cache, changed with an audit entry.

Every change raises the row's `version`. A process keeps the settings it resolved with the version it
read; before it uses them again it reads the version alone (a one-column primary-key read, at most
once per `settings_refresh_seconds`) and reloads only when another process changed them. A change
made in this process is seen at once.

Secret settings (the mail server's password) are stored sealed with the platform's secret key
(AES-GCM, `platform/secrets.py`), never as plain text; one that no longer opens (the key changed)
counts as not set.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import secrets, tables
from opsloom.platform.audit import audit
from opsloom.platform.context import RequestContext
from opsloom.platform.database import Database
from opsloom.platform.errors import Conflict, FieldError, ValidationFailed
from opsloom.platform.settings import Settings
from opsloom.platform.site_settings import SECRET_SETTINGS, ResolvedSettings, resolve, setting_problems

ROW = 1
SEALED = "sealed"  # a secret setting is stored as {"sealed": "<base64 nonce + ciphertext>"}


def _opened(document: Mapping[str, Any], key: str) -> dict[str, Any]:
    out = {}
    for name, value in document.items():
        if isinstance(value, Mapping) and SEALED in value:
            try:
                value = secrets.unseal(key, "settings", name, value[SEALED])
            except (secrets.SecretMissing, ValueError):
                continue  # sealed with another key: as if never set
        out[name] = value
    return out


def _sealed(document: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {
        name: {SEALED: secrets.seal(key, "settings", name, value)}
        if name in SECRET_SETTINGS and isinstance(value, str)
        else value
        for name, value in document.items()
    }


async def settings_in(session: AsyncSession, environment: Settings) -> ResolvedSettings:
    """The settings in force as `session` reads them, without a cache (the CLI's one-off commands)."""
    s = tables.site_settings
    row = (await session.execute(select(s.c.document, s.c.version).where(s.c.id == ROW))).first()
    document = _opened(row.document if row else {}, environment.resolved_secret_key())
    return resolve(environment.site_environment(), document, row.version if row else 0)


class SettingsStore:
    """One per process (the app factory's, a worker's): the settings in force, kept fresh."""

    def __init__(self, environment: Settings) -> None:
        self.environment = environment.site_environment()
        self.key = environment.resolved_secret_key()
        self.refresh_seconds = environment.settings_refresh_seconds
        self.current: ResolvedSettings = resolve(self.environment, {})
        self._checked = float("-inf")

    async def fresh(self, db: Database) -> ResolvedSettings:
        """The settings in force, reloaded if another process changed them since they were read."""
        if time.monotonic() - self._checked < self.refresh_seconds:
            return self.current
        s = tables.site_settings
        async with db.session() as session:
            version = (await session.execute(select(s.c.version).where(s.c.id == ROW))).scalar()
            if version is not None and version != self.current.version:
                document = (await session.execute(select(s.c.document).where(s.c.id == ROW))).scalar()
                self.current = resolve(self.environment, _opened(document or {}, self.key), version)
        self._checked = time.monotonic()
        return self.current

    async def change(
        self, db: Database, ctx: RequestContext, changes: Mapping[str, Any], expected_version: int | None = None
    ) -> ResolvedSettings:
        """Store `changes` (None: back to the default), validated, audited, all or nothing.

        A setting the environment fixes is refused with its variable's name: the stored value would
        never be used, so accepting it would only mislead."""
        self._checked = float("-inf")  # a change is judged against the latest settings, not a cached copy
        current = await self.fresh(db)
        if expected_version is not None and expected_version != current.version:
            raise Conflict("The settings were changed meanwhile by someone else; reload the page and try again")
        errors = [
            FieldError(name, f"is set by the environment (OPSLOOM_{name.upper()}); change it there")
            for name in changes
            if current.locked(name)
        ]
        document = {**current.stored}
        for name, value in changes.items():
            if value is None:
                document.pop(name, None)
            else:
                document[name] = value
        errors += setting_problems({k: v for k, v in changes.items() if v is not None})
        if errors:
            raise ValidationFailed.of(errors)
        s = tables.site_settings
        async with db.session(write=True) as session:
            row = (await session.execute(select(s.c.version).where(s.c.id == ROW).with_for_update())).first()
            if row is None:
                await session.execute(insert(s).values(id=ROW, document={}, version=0))
                version = 0
            else:
                version = row.version
            if version != current.version:
                raise Conflict("The settings were changed meanwhile by someone else; reload the page and try again")
            await session.execute(
                update(s)
                .where(s.c.id == ROW)
                .values(
                    document=_sealed(document, self.key),
                    version=version + 1,
                    updated_at=ctx.now,
                    updated_by=ctx.principal.user_id,
                )
            )
            shown = {k: ("(changed)" if k in SECRET_SETTINGS and v is not None else v) for k, v in changes.items()}
            await audit(session, ctx, "settings.changed", "settings", {"changes": shown})
        self.current = resolve(self.environment, document, version + 1)
        self._checked = time.monotonic()
        return self.current

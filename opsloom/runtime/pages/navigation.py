"""The app shell's side navigation: an app's forms, in its menu's order, as the reader may use them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import Principal
from opsloom.runtime.apps_api import app_summaries


async def app_navigation(session: AsyncSession, user: Principal, app: str) -> dict[str, Any] | None:
    """The app's summary (label, icon, colour, the forms the reader may read or create in); None when the
    reader may not use the app. Pages under /apps/{app} pass it to the base template as `nav`."""
    found = await app_summaries(session, user, only=app)
    return found[0] if found else None

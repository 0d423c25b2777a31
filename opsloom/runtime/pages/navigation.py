"""The app shell's side navigation: an app's forms, in its menu's order, as the reader may use them, then its
published reports (those whose source form the reader may read, as the reports API lists them) and dashboards."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import Principal
from opsloom.platform.permissions import form_access
from opsloom.runtime.apps_api import app_summaries
from opsloom.runtime.flow.instances import flow_for_form
from opsloom.runtime.reports.published import published_documents


async def app_navigation(session: AsyncSession, user: Principal, app: str) -> dict[str, Any] | None:
    """The app's summary (label, icon, colour, the forms the reader may read or create in, the reports and
    dashboards they may open); None when the reader may not use the app. Pages under /apps/{app} pass it to
    the base template as `nav`."""
    found = await app_summaries(session, user, only=app)
    if not found:
        return None
    reports = []
    for document in await published_documents(session, app, "report"):
        if (await form_access(session, user, app, document["form"])).can("read"):
            reports.append({"key": document["key"], "label": document.get("label") or document["key"]})
    dashboards = [
        {"key": d["key"], "label": d.get("label") or d["key"]}
        for d in await published_documents(session, app, "dashboard")
    ]
    processes = []  # the built-in process analytics of forms with a flow, for those who manage them
    for item in found[0]["forms"]:
        if await flow_for_form(session, app, item["key"]) is not None:
            if (await form_access(session, user, app, item["key"])).can("manage"):
                processes.append(item)
    return {**found[0], "reports": reports, "dashboards": dashboards, "processes": processes}

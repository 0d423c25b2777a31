"""The metadata kinds that have drafts, published versions and a publish step of their own.

Each kind names what checks a draft (`problems`) and what publishing it does
(`publish`); one router (`documents_api.py`) serves the draft/publish/versions
routes of every kind in `DOCUMENT_KINDS`. Forms have their own router: their
publish plans a schema migration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer.automations import automation_problems, publish_automation
from opsloom.designer.flows import flow_problems, publish_flow
from opsloom.designer.reports import dashboard_problems, publish_dashboard, publish_report, report_problems
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import FieldError
from opsloom.runtime.forms import FormRegistry

Problems = Callable[[AsyncSession, FormRegistry, str, Any], Awaitable[list[FieldError]]]
Publish = Callable[..., Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class DocumentKind:
    name: str  # the `kind` of its rows in opsloom_definitions, and its path parameter
    plural: str  # its URL segment: /api/design/apps/{app}/<plural>/{<name>}
    article: str  # "a" or "an", for the route summaries
    problems: Problems
    publish: Publish

    async def publish_draft(
        self,
        session: AsyncSession,
        ctx: RequestContext,
        registry: FormRegistry,
        app: str,
        key: str,
        *,
        dry_run: bool,
    ) -> dict[str, Any]:
        return await self.publish(session, ctx, registry, app, key, dry_run=dry_run)


DOCUMENT_KINDS: dict[str, DocumentKind] = {
    kind.name: kind
    for kind in (
        DocumentKind("flow", "flows", "a", flow_problems, publish_flow),
        DocumentKind("automation", "automations", "an", automation_problems, publish_automation),
        DocumentKind("report", "reports", "a", report_problems, publish_report),
        DocumentKind("dashboard", "dashboards", "a", dashboard_problems, publish_dashboard),
    )
}

"""Records that link to a record: on a purchase request's page, the purchase orders made from it.

Every relation field of the app's forms that points at the record's form is
asked through the records service, so the reader's row scope on the linking
form applies: a reader who may not read purchase orders sees none.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import RequestContext
from opsloom.platform.errors import NotFound
from opsloom.platform.permissions import form_access
from opsloom.runtime import records
from opsloom.runtime.fields import unit_of
from opsloom.runtime.forms import FormRegistry, published_forms
from opsloom.runtime.pages.display import record_label
from opsloom.runtime.pages.i18n import Translator

SHOWN_PER_FIELD = 10


async def linking_records(
    session: AsyncSession,
    forms: FormRegistry,
    ctx: RequestContext,
    t: Translator,
    app: str,
    form: str,
    record_id: int,
) -> list[dict[str, Any]]:
    """Per relation field pointing at `form`: the label, and the linking records the reader may read."""
    groups = []
    for key, _document in await published_forms(session, app):
        try:
            linking = await forms.get(session, app, key)
        except NotFound:
            continue
        access = await form_access(session, ctx.principal, app, key)
        if not access.can("read"):
            continue
        visible = linking.restricted(access.hidden)
        for spec in visible.fields:
            if unit_of(spec).link != "record" or spec.raw.get("form") != form:
                continue
            condition = json.dumps({"field": spec.key, "op": "eq", "value": record_id})
            query = records.ListRequest(
                filter=condition,
                sort="-id",
                limit=str(SHOWN_PER_FIELD),
                count="exact",
                with_rows=False,
            )
            page = await records.list_records(session, linking, ctx, query, access)
            if not page["items"]:
                continue
            title_key = visible.title_field if visible.title_field in visible.by_key else None
            groups.append(
                {
                    "form": key,
                    "label": t.label(visible.label),
                    "field": t.label(spec.label),
                    "total": page["total"],
                    "list": f"/apps/{app}/forms/{key}?" + urlencode({"filter": condition}),
                    "items": [
                        {
                            "id": item["id"],
                            "name": _name(visible, item, title_key),
                            "status": t(f"status.{item['status']}"),
                        }
                        for item in page["items"]
                    ],
                }
            )
    return groups


def _name(form: Any, item: dict[str, Any], title_key: str | None) -> str:
    """Its number (or id), then its title when that says more: `PO-2026-0001 · Laptops`."""
    label = record_label(form, item)
    title = str(item.get(title_key) or "") if title_key else ""
    return f"{label} · {title}" if title and title != label else label

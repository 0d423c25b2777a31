"""The flow timeline as people read it: names for user ids, times in the reader's zone, step and field labels.

`templates/timeline.html` renders the list `instances.timeline` returns; it
asks a `TimelineText` (passed as `timeline_text`) for every word that is not
in the data. A page that shows a timeline does:

    text = await timeline_text(session, ctx, form, timeline)
    render(ctx, "page.html", timeline=timeline, timeline_text=text, ...)

and `{% include "timeline.html" %}` in its template.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.runtime.fields import unit_of
from opsloom.runtime.fields.formatting import datetime_text
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.pages.display import value_text
from opsloom.runtime.pages.rendering import PageContext

ENDINGS = ("approved", "rejected")  # logged without a step when the whole flow ends


async def user_names(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    """Each user's name (or e-mail when they have none)."""
    wanted = {i for i in ids if isinstance(i, int)}
    if not wanted:
        return {}
    u = tables.users
    rows = await session.execute(select(u.c.id, u.c.name, u.c.email).where(u.c.id.in_(wanted)))
    return {row.id: row.name or row.email for row in rows}


def people_in(timeline: list[dict[str, Any]]) -> set[int]:
    """Every user id a timeline mentions: submitters, assignees, actors, and the people events name."""
    ids: set[int] = set()
    for instance in timeline:
        ids.add(instance.get("submitter_id"))  # type: ignore[arg-type]
        for task in instance.get("tasks", []):
            ids.update((task.get("assignee_id"), task.get("on_behalf_of")))
        for event in instance.get("events", []):
            ids.add(event.get("actor_id"))
            detail = event.get("detail") or {}
            ids.update(detail.get("users") or detail.get("recipients") or detail.get("assignees") or [])
            if isinstance(detail.get("to"), int):
                ids.add(detail["to"])
    return {i for i in ids if isinstance(i, int)}


@dataclass(frozen=True)
class TimelineText:
    ctx: PageContext
    form: CompiledForm
    names: Mapping[int, str]
    steps: Mapping[str, Any]  # node id -> its label, from the tasks the flow made

    def who(self, user_id: int | None) -> str:
        if user_id is None:
            return self.ctx.t("timeline.by_system")
        return self.names.get(user_id) or f"#{user_id}"

    def when(self, moment: str | None) -> str:
        return datetime_text(moment, self.ctx.t.locale, self.ctx.zone) if moment else ""

    def step(self, node: str | None) -> str:
        if not node:
            return ""
        return self.ctx.t.label(self.steps.get(node)) or node

    def what(self, event: Mapping[str, Any]) -> str:
        action = event.get("action", "")
        if action in ENDINGS and not event.get("node"):
            return self.ctx.t(f"timeline.flow_{action}")
        return self.ctx.t(f"timeline.{action}")

    def target(self, event: Mapping[str, Any]) -> str:
        """Whom or where an event went: a return's step, a transfer's person, added signers."""
        detail = event.get("detail") or {}
        to = detail.get("to")
        if event.get("action") == "returned":
            return self.ctx.t("task.return.submitter") if to == "submitter" else self.step(to)
        if isinstance(to, int):
            return self.who(to)
        if event.get("action") in ("signer_added", "urged", "cc"):
            return ", ".join(self.who(u) for u in detail.get("users") or detail.get("recipients") or [])
        return ""

    def changes(self, event: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """(field label, value before, value after), as text, for each field the event changed."""
        changes = (event.get("detail") or {}).get("changes") or {}
        shown = []
        for key, change in changes.items():
            spec = self.form.by_key.get(key)
            if spec is None or not isinstance(change, Mapping):
                continue
            before, after = (value_text(self.ctx.t, self.ctx.zone, spec, change.get(k)) for k in ("before", "after"))
            shown.append((self.ctx.t.label(spec.label), before, after))
        return shown

    def pictures(self, event: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(alt text, thumbnail URL) of the pictures an event put in fields that show them (a signature)."""
        changes = (event.get("detail") or {}).get("changes") or {}
        files = f"/api/apps/{self.form.app}/forms/{self.form.key}/files"
        shown = []
        for key, change in changes.items():
            spec = self.form.by_key.get(key)
            if spec is None or not isinstance(change, Mapping) or "thumb" not in unit_of(spec).renditions:
                continue
            label = self.ctx.t.label(spec.label)
            for file in change.get("after") or ():
                if isinstance(file, Mapping) and isinstance(file.get("id"), int):
                    shown.append((f"{label}: {file.get('name', '')}", f"{files}/{file['id']}?size=thumb"))
        return shown

    def files(self, event: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(name, download URL) of the files a comment carries (those the reader may see: `instances.timeline`)."""
        files = (event.get("detail") or {}).get("files") or []
        url = f"/api/apps/{self.form.app}/forms/{self.form.key}/files"
        return [
            (str(f.get("name", "")), f"{url}/{f['id']}")
            for f in files
            if isinstance(f, Mapping) and isinstance(f.get("id"), int)
        ]

    def state(self, task: Mapping[str, Any]) -> str:
        return self.ctx.t(f"task.state.{task.get('state')}")


async def timeline_text(
    session: AsyncSession,
    ctx: PageContext,
    form: CompiledForm,
    timeline: list[dict[str, Any]],
    labels: Mapping[str, Any] | None = None,
) -> TimelineText:
    """`labels`: node id -> the flow's own label (it may hold translations); else the names tasks were made with."""
    steps: dict[str, Any] = dict(labels or {})
    for instance in timeline:
        for task in instance.get("tasks", []):
            steps.setdefault(task["node"], task.get("node_labels") or task["node"])
    names = await user_names(session, people_in(timeline))
    return TimelineText(ctx, form, names, steps)

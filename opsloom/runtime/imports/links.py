"""Links named by text in a spreadsheet: a record by its title (or a unique field), a person by
e-mail or name, a department by name or path ("总部/销售部"). One resolver per kind of link
(what a field type's `link` says), each answering many texts in one query.

A text that names nothing, or more than one thing, resolves to None: the user maps it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.runtime.fields import FieldSpec, unit_of
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.records.read import live

Resolve = Callable[[AsyncSession, CompiledForm, FieldSpec, list[str]], Awaitable[dict[str, Any]]]


def _unique(pairs: Iterable[tuple[str, int]], texts: list[str]) -> dict[str, Any]:
    """Each text's id if exactly one thing has it."""
    hits: dict[str, set[int]] = {}
    for text, ident in pairs:
        hits.setdefault(text, set()).add(ident)
    return {text: (next(iter(hits[text])) if len(hits.get(text, ())) == 1 else None) for text in texts}


async def records_by_title(
    session: AsyncSession, form: CompiledForm, spec: FieldSpec, texts: list[str]
) -> dict[str, Any]:
    target = form.target(spec)
    t = target.table
    columns = [target.title_column()] if target.title_field else []
    columns += [target.column(s) for s in target.fields if s.unique and unit_of(s).text_like]
    answer: dict[str, Any] = {text: None for text in texts}
    for column in dict.fromkeys(columns):
        rows = await session.execute(select(column, t.c.id).where(column.in_(texts), live(target)))
        found = _unique(((str(text), ident) for text, ident in rows.all()), texts)
        answer.update({k: v for k, v in found.items() if v is not None and answer[k] is None})
    for text in texts:  # an id written as such
        if answer[text] is None and text.isdigit():
            exists = await session.execute(select(t.c.id).where(t.c.id == int(text), live(target)))
            answer[text] = exists.scalar()
    return answer


async def users_by_name(session: AsyncSession, form: CompiledForm, spec: FieldSpec, texts: list[str]) -> dict[str, Any]:
    u = tables.users
    lowered = [t.lower() for t in texts]
    rows = await session.execute(
        select(u.c.email, u.c.name, u.c.id).where(
            u.c.active, or_(func.lower(u.c.email).in_(lowered), u.c.name.in_(texts))
        )
    )
    by_email: dict[str, int] = {}
    by_name: list[tuple[str, int]] = []
    for email, name, ident in rows.all():
        by_email[email.lower()] = ident
        by_name.append((name, ident))
    named = _unique(by_name, texts)
    return {text: by_email.get(text.lower(), named.get(text)) for text in texts}


async def departments_by_path(
    session: AsyncSession, form: CompiledForm, spec: FieldSpec, texts: list[str]
) -> dict[str, Any]:
    d = tables.departments
    rows = (await session.execute(select(d.c.id, d.c.name, d.c.parent_id))).all()
    parents = {ident: parent for ident, _, parent in rows}
    names = {ident: name for ident, name, _ in rows}

    def path(ident: int) -> str:
        parts = []
        seen: set[int] = set()
        current: int | None = ident
        while current is not None and current not in seen:
            seen.add(current)
            parts.append(names[current])
            current = parents.get(current)
        return "/".join(reversed(parts))

    pairs = [(name, ident) for ident, name, _ in rows]
    full = {path(ident): ident for ident, _, _ in rows}
    named = _unique(pairs, texts)
    answer = {}
    for text in texts:
        clean = "/".join(p.strip() for p in text.replace("\\", "/").replace(">", "/").split("/") if p.strip())
        answer[text] = full.get(clean) if "/" in clean else named.get(text)
    return answer


RESOLVERS: dict[str, Resolve] = {"record": records_by_title, "user": users_by_name, "department": departments_by_path}


class LinkResolver:
    async def resolve(
        self, session: AsyncSession, form: CompiledForm, spec: FieldSpec, link: str, texts: Iterable[str]
    ) -> dict[str, Any]:
        wanted = sorted(set(texts))
        resolve = RESOLVERS.get(link)
        if resolve is None or not wanted:
            return {text: None for text in wanted}
        answer: dict[str, Any] = {}
        for start in range(0, len(wanted), 500):
            answer.update(await resolve(session, form, spec, wanted[start : start + 500]))
        return answer

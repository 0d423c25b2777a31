"""What a flow's notification says, written once in its recipient's language.

The stored text is what `GET /api/notifications` answers and what mail and
chat channels send: the message of the notification's kind (the pages'
catalogs), the step's name, and an urge's comment, in the language the
recipient chose, else the platform's default (zh-CN). The notifications page
composes its own text from the kind, in the reader's language of the moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.locales import DEFAULT_LOCALE
from opsloom.runtime.flow.model import Notify
from opsloom.runtime.pages.i18n import Translator, supported


async def recipient_locales(
    session: AsyncSession,
    users: Iterable[int],
    known: Mapping[int, str | None] | None = None,
    default: str = DEFAULT_LOCALE,
) -> dict[int, str]:
    """The language server-side texts for each user are written in: theirs if chosen, else `default`
    (the settings' default language).
    `known`: the languages of users already read (chosen or None), not read again."""
    wanted = set(users)
    chosen = {user: locale for user, locale in (known or {}).items() if user in wanted}
    if unread := wanted - set(chosen):
        u = tables.users
        chosen |= dict((await session.execute(select(u.c.id, u.c.locale).where(u.c.id.in_(unread)))).all())
    return {user: supported(chosen.get(user)) or default for user in wanted}


def notification_text(locale: str, notify: Notify, title: str, step: Mapping[str, Any] | str | None) -> str:
    """`step`: the label of the step the notification is about (translations or a plain string), if any."""
    t, key = Translator(locale), f"notification.{notify.kind}"
    if not t.known(key, ""):  # a kind the catalogs do not name: the engine's own words
        return (notify.text or notify.kind)[:1000]
    message = t(key, title=title)
    if step:
        message += " · " + t("tasks.step", step=t.label(step))
    if notify.kind == "urge" and notify.text:  # the urger's own words
        message += " — " + notify.text
    return message[:1000]

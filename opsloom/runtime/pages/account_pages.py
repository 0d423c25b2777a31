"""My settings (`/me`): my language, out-of-office delegation of my new tasks, and my password.

The language form posts to `POST /locale` like the header's switcher (and can
forget the choice, so the browser decides again). The other forms go to the
API from static/js/account.js (`PUT/DELETE /api/me/delegation`,
`POST /api/auth/password`), so the checks are the API's own.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from opsloom.platform import tables
from opsloom.platform.http import DB
from opsloom.runtime.fields.formatting import datetime_text
from opsloom.runtime.pages.i18n import FOLLOW_BROWSER, LOCALE_NAMES, LOCALES, supported
from opsloom.runtime.pages.record_pages import error_words
from opsloom.runtime.pages.rendering import page_context, render, request_context, to_login
from opsloom.runtime.pages.routes import current_user
from opsloom.runtime.pages.timeline import user_names

router = APIRouter(include_in_schema=False)


@router.get("/me")
async def my_settings(request: Request, db: DB) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    now = request_context(request, user).now
    g = tables.delegations
    async with db.session() as session:
        rows = (
            await session.execute(
                select(g).where(g.c.user_id == user.user_id, g.c.ends_at > now).order_by(g.c.starts_at)
            )
        ).all()
        names = await user_names(session, [row.delegate_id for row in rows])
    delegations = [
        {
            "who": names.get(row.delegate_id, f"#{row.delegate_id}"),
            "starts": datetime_text(row.starts_at, ctx.t.locale, ctx.zone),
            "ends": datetime_text(row.ends_at, ctx.t.locale, ctx.zone),
            "now": row.starts_at <= now,
        }
        for row in rows
    ]
    saved = request.query_params.get("saved", "")
    return render(
        ctx,
        "account.html",
        delegations=delegations,
        words=error_words(ctx.t),
        languages=[(FOLLOW_BROWSER, ctx.t("account.language_browser")), *((c, LOCALE_NAMES[c]) for c in LOCALES)],
        chosen=supported(user.locale) or FOLLOW_BROWSER,
        notice=ctx.t(f"account.saved_{saved}") if saved in ("away", "away_ended") else "",
    )

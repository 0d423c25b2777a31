"""A person's account: deactivating them (handing their open tasks to someone in the same step),
activating them again, and resetting their password. Each goes through the organisation service,
which ends the person's sessions and revokes their API tokens where it should, and audits it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from opsloom.admin.pages.people import find_person, person_page_response
from opsloom.admin.pages.shell import Admin, field_errors, form_id, open_admin, posted_form
from opsloom.platform import org
from opsloom.platform.errors import OpsloomError
from opsloom.runtime.flow.handover import hand_over_open_tasks, open_tasks_of
from opsloom.runtime.flow.instances import Services
from opsloom.runtime.pages.rendering import not_found, page_id, redirect

router = APIRouter(include_in_schema=False)


@router.post("/admin/people/{user_id}/deactivate")
async def deactivate(user_id: str, request: Request) -> Response:
    """Deactivate a person after handing their open tasks to the person chosen, in one transaction."""
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await posted_form(request, admin)
    if not isinstance(form, dict):
        return form
    found = page_id(user_id)
    t = admin.ctx.t
    receiver = form_id(form.get("hand_over_to"))
    comment = form.get("comment", "").strip() or None
    ctx = admin.services_context()
    async with request.app.state.db.session() as session:
        person = await find_person(session, found) if found else None
        if person is None:
            return not_found(admin.ctx)
        open_tasks = await open_tasks_of(session, person["id"])
        problem = None
        if person["id"] == admin.user.user_id:
            problem = {"deactivate": t("admin.error.deactivate_self")}
        elif open_tasks and receiver is None:
            problem = {"hand_over_to": t("admin.error.receiver_needed")}
        if problem:
            return await person_page_response(admin, session, person, 400, errors=problem)
    try:  # every task moves and the person is deactivated, or nothing changes
        async with request.app.state.db.session(write=True) as session:
            if receiver is not None:
                services = Services(request.app.state.forms, request.app.state.flows)
                moved = await hand_over_open_tasks(session, ctx, services, person["id"], receiver, comment)
            else:
                moved = len(await open_tasks_of(session, person["id"]))
                if moved:  # a task arrived since the page was shown
                    raise HandOverNeeded()
            await org.update_user(session, ctx, person["id"], {"active": False})
    except (OpsloomError, HandOverNeeded) as error:
        detail = error.detail if isinstance(error, OpsloomError) else t("admin.error.receiver_needed")
        async with request.app.state.db.session() as session:
            problem = {"hand_over_to": t("admin.error.hand_over_failed", detail=detail)}
            return await person_page_response(admin, session, person, 400, errors=problem)
    notice = "deactivated_handed" if moved else "deactivated"
    return redirect(f"/admin/people/{person['id']}?" + urlencode({"notice": notice, "count": moved}))


class HandOverNeeded(Exception):
    """Open tasks would be left with a deactivated person: someone must be chosen to take them."""


@router.post("/admin/people/{user_id}/activate")
async def activate(user_id: str, request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await posted_form(request, admin)
    if not isinstance(form, dict):
        return form
    found = page_id(user_id)
    async with request.app.state.db.session(write=True) as session:
        person = await find_person(session, found) if found else None
        if person is None:
            return not_found(admin.ctx)
        await org.update_user(session, admin.services_context(), person["id"], {"active": True})
    return redirect(f"/admin/people/{person['id']}?notice=activated")


@router.post("/admin/people/{user_id}/password")
async def reset_password(user_id: str, request: Request) -> Response:
    """A new password set by the admin: the person's sessions end and their API tokens are revoked."""
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await posted_form(request, admin)
    if not isinstance(form, dict):
        return form
    found = page_id(user_id)
    async with request.app.state.db.session(write=True) as session:
        person = await find_person(session, found) if found else None
        if person is None:
            return not_found(admin.ctx)
        try:
            await org.update_user(
                session, admin.services_context(), person["id"], {"password": form.get("password", "")}
            )
        except OpsloomError as error:
            return await person_page_response(admin, session, person, 400, errors=field_errors(admin.ctx.t, error))
    return redirect(f"/admin/people/{person['id']}?notice=password_reset")

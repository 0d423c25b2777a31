"""Login, logout, who am I, password change and API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from opsloom.platform import auth, tables
from opsloom.platform.api_document import problems
from opsloom.platform.audit import audit
from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from opsloom.platform.http import DB, authenticated, context_of
from opsloom.platform.passwords import hash_password, verify_password
from opsloom.platform.site_settings import password_problem

public = APIRouter(prefix="/api/auth", tags=["auth"])
router = APIRouter(tags=["auth"], dependencies=[Depends(authenticated)])


class Login(BaseModel):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    apps: list[str] | None = Field(default=None, description="Apps the token may use; all when omitted")
    write: bool = Field(default=False, description="May the token change data?")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


def me_view(p: Principal) -> dict[str, Any]:
    return {
        "id": p.user_id,
        "email": p.email,
        "name": p.name,
        "locale": p.locale,
        "department_id": p.department_id,
        "is_admin": p.is_admin,
        "via": p.via,
    }


@public.post("/login", summary="Log in with e-mail and password; sets the session cookie", responses=problems(401, 429))
async def login(body: Login, request: Request, response: Response, db: DB) -> dict[str, Any]:
    ctx = await context_of_anonymous(request)
    token, csrf, principal = await auth.login(db, ctx, body.email, body.password)
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    auth.set_session_cookie(response, token, secure=secure, site=ctx.site)
    return {"user": me_view(principal), "csrf_token": csrf}


async def context_of_anonymous(request: Request) -> RequestContext:
    """A visitor's context (logging in), with the settings in force read fresh."""
    ip = request.client.host if request.client else None
    resolved = await request.app.state.site_settings.fresh(request.app.state.db)
    return RequestContext.with_site(Principal(), resolved.settings, ip)


@router.post("/api/auth/logout", summary="End this session")
async def logout(request: Request, response: Response, db: DB) -> dict[str, Any]:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        async with db.session(write=True) as session:
            await auth.logout(session, token)
            await audit(session, context_of(request), "logout")
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return {"status": "logged out"}


@router.get("/api/me", summary="The user behind this request")
async def me(request: Request) -> dict[str, Any]:
    return me_view(request.state.principal)


@router.post("/api/auth/password", summary="Change my password (ends my other sessions and revokes my API tokens)")
async def change_password(body: PasswordChange, request: Request, db: DB) -> dict[str, Any]:
    principal: Principal = request.state.principal
    ctx = context_of(request)
    problem = password_problem(body.new_password, ctx.site)
    if problem:
        raise ValidationFailed.of([FieldError("new_password", problem)])
    db = db
    u = tables.users
    async with db.session() as session:
        current = (await session.execute(select(u.c.password_hash).where(u.c.id == principal.user_id))).scalar()
    # Both hashes are checked and made without holding a connection (or SQLite's write lock).
    if not await verify_password(current, body.current_password):
        raise PermissionDenied("The current password is wrong", [FieldError("current_password", "is wrong")])
    new_hash = await hash_password(body.new_password)
    async with db.session(write=True) as session:
        changed = await session.execute(
            update(u).where(u.c.id == principal.user_id, u.c.password_hash == current).values(password_hash=new_hash)
        )
        if not changed.rowcount:  # type: ignore[attr-defined]
            raise Conflict("The password was changed meanwhile; check the current password and try again")
        keep = request.cookies.get(auth.SESSION_COOKIE) if principal.via == "session" else None
        assert principal.user_id is not None  # the route is for people logged in
        await auth.end_credentials(session, ctx, principal.user_id, keep=keep)
        await audit(session, ctx, "password.changed", f"user:{principal.user_id}")
    return {"status": "password changed"}


@router.post("/api/auth/tokens", status_code=201, summary="Create an API token (shown once)")
async def create_token(body: TokenRequest, request: Request, db: DB) -> dict[str, Any]:
    principal: Principal = request.state.principal
    if principal.via == "token":
        raise PermissionDenied("API tokens cannot create tokens; log in with a password")
    ctx = context_of(request)
    expires = ctx.now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    assert principal.user_id is not None  # the route is for people logged in
    async with db.session(write=True) as session:
        token, token_id = await auth.create_token(
            session, ctx, principal.user_id, body.name, body.apps, body.write, expires
        )
    return {"id": token_id, "token": token, "name": body.name, "apps": body.apps, "write": body.write}


@router.get("/api/auth/tokens", summary="My API tokens (without their secrets)")
async def list_tokens(request: Request, db: DB) -> dict[str, Any]:
    t = tables.api_tokens
    async with db.session() as session:
        rows = await session.execute(select(t).where(t.c.user_id == request.state.principal.user_id).order_by(t.c.id))
        return {"items": [auth.token_view(r) for r in rows]}


@router.delete("/api/auth/tokens/{token_id}", status_code=204, summary="Revoke an API token")
async def revoke(token_id: Annotated[int, Path(ge=1, le=2**63 - 1)], request: Request, db: DB) -> Response:
    principal: Principal = request.state.principal
    async with db.session(write=True) as session:
        owner = None if principal.is_admin else principal.user_id
        if not await auth.revoke_token(session, context_of(request), token_id, owner):
            raise NotFound(f"You have no active token {token_id}")
    return Response(status_code=204)

"""Authentication: password login with session cookies (and CSRF), API tokens, throttling."""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request, Response
from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.audit import audit
from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.database import Database
from opsloom.platform.errors import PermissionDenied, TooManyRequests, Unauthenticated
from opsloom.platform.passwords import digest, new_secret, verify_password
from opsloom.platform.principal_cache import cache_of
from opsloom.platform.site_settings import DEFAULTS, SiteSettings

SESSION_COOKIE = "opsloom_session"
CSRF_HEADER = "x-csrf-token"
TOKEN_PREFIX = "olt_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Login throttling: failures counted over a window (the settings' `login_lockout_minutes`), per e-mail
# (`login_max_failures`) and per address (this many times as many: an office shares one address).
IP_FAILURES_FACTOR = 6
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def session_lifetime(site: SiteSettings) -> timedelta:
    return timedelta(hours=site.session_lifetime_hours)


def set_session_cookie(response: Response, token: str, *, secure: bool, site: SiteSettings = DEFAULTS) -> None:
    """The session cookie, alike for the API's login and the login page."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(session_lifetime(site).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


class TooManyAttempts(TooManyRequests):
    title = "Too many attempts"
    slug = "too-many-attempts"


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def principal_from_row(row: Any, **extra: Any) -> Principal:
    return Principal(
        user_id=row.id,
        department_id=row.department_id,
        email=row.email,
        name=row.name,
        locale=row.locale,
        is_admin=row.is_admin,
        **extra,
    )


# ------------------------------------------------------------------ login


async def login(db: Database, ctx: RequestContext, email: str, password: str) -> tuple[str, str, Principal]:
    """Check the password; return (session token, CSRF token, principal).

    The attempt is counted before the password is checked, so that concurrent
    attempts cannot slip under the limit together; no connection is held while
    the (slow) hash is checked. Refusals raise `TooManyAttempts` or `Unauthenticated`,
    both written to the audit log.
    """
    email = email.strip().lower()
    row = await _admit_attempt(db, ctx, email)
    ok = await verify_password(row.password_hash if row else None, password)
    if not ok or row is None or not row.active:
        async with db.session(write=True) as session:
            await audit(session, ctx, "login.failed", email)
        raise Unauthenticated("The e-mail or password is wrong (or the account is disabled)")
    token, csrf = new_secret(), secrets.token_urlsafe(24)
    async with db.session(write=True) as session:
        await session.execute(delete(tables.login_failures).where(tables.login_failures.c.email == email))
        await session.execute(
            insert(tables.sessions).values(
                token_hash=digest(token),
                user_id=row.id,
                csrf_token=csrf,
                created_at=ctx.now,
                expires_at=ctx.now + session_lifetime(ctx.site),
                ip=ctx.ip,
            )
        )
        await audit(session, ctx, "login", email, actor_id=row.id)
    return token, csrf, principal_from_row(row, via="session", csrf_token=csrf)


async def _admit_attempt(db: Database, ctx: RequestContext, email: str) -> Any:
    """Count this attempt in and answer the account's row (None if there is none),
    or raise `TooManyAttempts` when the window's attempts are used up.

    One short write transaction, serialised per account: it locks the user's
    row (SQLite's write transactions are serialised anyway), counts the window's
    attempts and writes this one, all before the password is checked. So of any
    number of concurrent attempts at most `login_max_failures` are checked.
    The row stays as a failure unless the login succeeds, which clears them.
    (An e-mail of no account has no row to lock: on PostgreSQL a burst for it
    may get a few more checks, each of which can only fail.)
    """
    f, u = tables.login_failures, tables.users
    async with db.session(write=True) as session:
        row = (await session.execute(select(u).where(u.c.email == email).with_for_update())).first()
        limit, window = ctx.site.login_max_failures, timedelta(minutes=ctx.site.login_lockout_minutes)
        waits = [await _throttled_for(session, ctx.now, f.c.email == email, limit, window)]
        if ctx.ip:
            ip_limit = limit * IP_FAILURES_FACTOR
            waits.append(await _throttled_for(session, ctx.now, f.c.ip == ctx.ip, ip_limit, window))
        wait = max(waits)
        if wait:
            await audit(session, ctx, "login.throttled", email)
        else:
            await session.execute(insert(f).values(email=email, ip=ctx.ip, at=ctx.now))
    if wait:
        minutes = -(-wait // 60)
        raise TooManyAttempts(
            f"Too many failed logins; wait {minutes} minutes or ask an administrator to reset the password",
            retry_after=wait,
        )
    return row


async def _throttled_for(session: AsyncSession, now: datetime, who: Any, limit: int, window: timedelta) -> int:
    """Seconds until fewer than `limit` failures of `who` are left in the window (0: not throttled)."""
    f = tables.login_failures
    recent = select(f.c.at).where(who, f.c.at > now - window).order_by(f.c.at.desc())
    # The `limit`-th newest failure: once it leaves the window, fewer than `limit` remain.
    oldest = (await session.execute(recent.offset(limit - 1).limit(1))).scalar()
    if oldest is None:
        return 0
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def token_view(row: Any) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat().replace("+00:00", "Z")

    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "apps": row.apps,
        "write": row.can_write,
        "created_at": when(row.created_at),
        "expires_at": when(row.expires_at),
        "last_used_at": when(row.last_used_at),
        "revoked_at": when(row.revoked_at),
    }


async def logout(session: AsyncSession, token: str) -> None:
    await session.execute(delete(tables.sessions).where(tables.sessions.c.token_hash == digest(token)))


# ------------------------------------------------------------ who is this


async def principal_for_request(request: Request, *, hold: bool = False) -> Principal:
    """The caller, from a Bearer token or the session cookie; 401 if neither is valid.

    Each look-up holds one connection at a time: a request never waits for a
    second connection while holding its first (which deadlocks a busy pool).
    With `hold`, the look-up's transaction is left open for the request's first
    session to continue (`Database.hold`); the caller releases it at the end."""
    db = request.app.state.db
    site = (await request.app.state.site_settings.fresh(db)).settings
    header = request.headers.get("authorization", "")
    now = _now()
    held = _held_as(request, db) if hold else None
    if header.lower().startswith("bearer "):
        return await _token_principal(request, db, header[7:].strip(), now, held)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthenticated("Log in first: POST /api/auth/login, or send Authorization: Bearer <token>")
    hashed = digest(cookie)
    row = await _look_up(request, ("session", hashed), _SESSION_ROW, hashed, held)
    # A session ends at the lifetime it was given, or sooner when the lifetime has been shortened since.
    if row is None or min(row.expires_at, row.session_started + session_lifetime(site)) < now or not row.active:
        raise Unauthenticated("Your session has ended; log in again")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or getattr(request.state, "form_csrf", None)
        if not sent or not secrets.compare_digest(sent, row.csrf_token):
            raise PermissionDenied("Missing or wrong CSRF token: send the X-CSRF-Token header you got at login")
    return principal_from_row(row, via="session", csrf_token=row.csrf_token)


def _held_as(request: Request, db: Database) -> bool | None:
    """How a request's authentication leaves its transaction open: for reads (False), for
    writes (True), or not at all (None). On SQLite a write must begin as one (`BEGIN
    IMMEDIATE`), and must not hold the one write lock while the request's body arrives."""
    if request.method in SAFE_METHODS:
        return False
    return True if db.is_postgresql else None


_s, _t, _u = tables.sessions, tables.api_tokens, tables.users
# Built once: most requests find their principal remembered and need no statement at all.
_SESSION_ROW = (
    select(_u, _s.c.csrf_token, _s.c.expires_at, _s.c.created_at.label("session_started"))
    .join(_s, _s.c.user_id == _u.c.id)
    .where(_s.c.token_hash == bindparam("hashed"))
)
_TOKEN_ROW = (
    select(
        _u, _t.c.id.label("token_id"), _t.c.apps, _t.c.can_write, _t.c.expires_at, _t.c.revoked_at, _t.c.last_used_at
    )
    .join(_t, _t.c.user_id == _u.c.id)
    .where(_t.c.token_hash == bindparam("hashed"))
)


async def _look_up(request: Request, key: tuple[str, str], statement: Any, hashed: str, held: bool | None) -> Any:
    """The statement's first row for the hashed secret: as this process remembers it
    (`PrincipalCache`), or read in a transaction of its own or in one left open for the
    request (`held`)."""
    cache = cache_of(request.app.state)
    if cache is not None and (remembered := cache.get(key)) is not None:
        return remembered
    ticket = cache.ticket() if cache is not None else 0
    db: Database = request.app.state.db
    if held is None:
        async with db.session() as session:
            row = (await session.execute(statement, {"hashed": hashed})).first()
    else:
        session = await db.hold(write=held)
        row = (await session.execute(statement, {"hashed": hashed})).first()
    if cache is not None and row is not None:
        cache.put(key, row, ticket)
    return row


async def _token_principal(
    request: Request, db: Database, token: str, now: datetime, held: bool | None = None
) -> Principal:
    hashed = digest(token)
    row = await _look_up(request, ("token", hashed), _TOKEN_ROW, hashed, held)
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at < now) or not row.active:
        raise Unauthenticated("The API token is unknown, revoked or expired")
    if not row.can_write and request.method not in SAFE_METHODS:
        raise PermissionDenied("This API token may only read; create a token with write access")
    if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:
        await _touch_token(db, row.token_id, row.id, now, client_ip(request))
    apps = frozenset(row.apps) if row.apps is not None else None
    return principal_from_row(row, via="token", token_apps=apps, can_write=row.can_write)


async def _touch_token(db: Database, token_id: int, user_id: int, now: datetime, ip: str | None) -> None:
    """Note "last used" (at most once a minute), after the read's connection went back to the pool
    (a held one is ended first, or continued when it was held for a write).

    Its own write transaction: on SQLite a read transaction that turns into a
    write can fail at once with "database is locked", where a write begun as
    such waits its turn. Of concurrent requests with one token only the first
    writes and audits: the condition is checked again in the UPDATE."""
    t = tables.api_tokens
    stale = or_(t.c.last_used_at.is_(None), t.c.last_used_at < now - TOKEN_TOUCH_INTERVAL)
    ctx = RequestContext(principal=Principal(user_id=user_id), now=now, ip=ip)
    async with db.session(write=True) as session:
        touched = await session.execute(update(t).where(t.c.id == token_id, stale).values(last_used_at=now))
        if touched.rowcount:  # type: ignore[attr-defined]
            await audit(session, ctx, "token.used", f"token:{token_id}")


# ----------------------------------------------------------------- tokens


async def create_token(
    session: AsyncSession,
    ctx: RequestContext,
    user_id: int,
    name: str,
    apps: list[str] | None,
    can_write: bool,
    expires_at: datetime | None,
) -> tuple[str, int]:
    token = new_secret(TOKEN_PREFIX)
    result = await session.execute(
        insert(tables.api_tokens)
        .values(
            user_id=user_id,
            name=name,
            token_hash=digest(token),
            prefix=token[:10],
            apps=apps,
            can_write=can_write,
            created_at=ctx.now,
            expires_at=expires_at,
        )
        .returning(tables.api_tokens.c.id)
    )
    token_id = result.scalar_one()
    await audit(session, ctx, "token.created", f"token:{token_id}", {"name": name, "apps": apps, "write": can_write})
    return token, token_id


async def revoke_token(session: AsyncSession, ctx: RequestContext, token_id: int, user_id: int | None) -> bool:
    t = tables.api_tokens
    where = [t.c.id == token_id, t.c.revoked_at.is_(None)]
    if user_id is not None:
        where.append(t.c.user_id == user_id)
    done = await session.execute(update(t).where(*where).values(revoked_at=ctx.now).returning(t.c.id))
    if done.first() is None:
        return False
    await audit(session, ctx, "token.revoked", f"token:{token_id}")
    return True


async def end_credentials(session: AsyncSession, ctx: RequestContext, user_id: int, keep: str | None = None) -> None:
    """Revoke the user's API tokens and end their sessions, but the session `keep`.

    Called when a password changes or is reset and when a user is deactivated:
    nothing issued before then goes on working (nor comes back on reactivation)."""
    s, t = tables.sessions, tables.api_tokens
    where = [s.c.user_id == user_id]
    if keep:
        where.append(s.c.token_hash != digest(keep))
    await session.execute(delete(s).where(*where))
    revoked = await session.execute(
        update(t).where(t.c.user_id == user_id, t.c.revoked_at.is_(None)).values(revoked_at=ctx.now).returning(t.c.id)
    )
    for (token_id,) in revoked.all():
        await audit(session, ctx, "token.revoked", f"token:{token_id}")


def _now() -> datetime:
    return datetime.now(UTC)

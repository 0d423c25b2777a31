"""The baseline of bench/records_api.py: a hand-written FastAPI + SQLAlchemy Core app.

It serves the tables that Opsloom created when the benchmark published its
forms, declared here by hand, with the endpoints a developer would write for
one known table: Pydantic models at the edge, Core statements inside. To
measure the cost of the generic layer and nothing else, it shares with Opsloom
what is not that layer: the engine set-up (`Database`: pool, SQLite pragmas,
`BEGIN IMMEDIATE` for writes), the column types that define how values are
stored, and the history row that every create appends in its transaction.
`POST /orders/logged` also writes the audit line and the outbox event that
Opsloom's create writes, each by a plain INSERT of its own.

Run by the benchmark as `uvicorn handwritten_app:create_app --factory` with
BENCH_DATABASE_URL set; it is never imported by Opsloom or its tests.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy.types import TypeEngine

from opsloom.platform import tables
from opsloom.platform.collector import freeze_garbage_collector
from opsloom.platform.context import Principal
from opsloom.platform.database import Database
from opsloom.platform.http import authenticated, install_error_handlers
from opsloom.platform.principal_cache import PrincipalCache
from opsloom.platform.settings import Settings
from opsloom.platform.settings_store import SettingsStore
from opsloom.platform.types import BigId, ExactDecimal, Json, UTCDateTime

APP = "bench"
COUNT_CAP = 10_000  # as Opsloom's exact_count_limit: count exactly up to here

# ----------------------------------------------------------------- tables


def system_columns() -> list[Column[Any]]:
    return [
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("version", Integer, nullable=False),
        Column("status", String(16), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("created_by", BigInteger),
        Column("updated_at", UTCDateTime, nullable=False),
        Column("updated_by", BigInteger),
        Column("owner_id", BigInteger),
        Column("department_id", BigInteger),
        Column("deleted_at", UTCDateTime),
    ]


metadata = MetaData()

orders = Table(
    "bench__order",
    metadata,
    *system_columns(),
    Column("title", String(50)),
    Column("amount", ExactDecimal(12, 2)),
    Column("qty", BigInteger),
    Column("kind", String(64)),
    Column("due", Date),
    Column("email", String(254)),
    Column("paid", Boolean),
    Column("notes", Text),
)
ORDER_FIELDS = ("title", "amount", "qty", "kind", "due", "email", "paid", "notes")

# The wide table: 50 columns, five of each of ten field types.
WIDE_TYPES: tuple[tuple[str, TypeEngine[Any], Any], ...] = (
    ("text", String(255), str),
    ("integer", BigInteger(), int),
    ("decimal", ExactDecimal(18, 2), Decimal),
    ("boolean", Boolean(), bool),
    ("date", Date(), date),
    ("datetime", UTCDateTime(), datetime),
    ("select", String(64), str),
    ("email", String(254), str),
    ("textarea", Text(), str),
    ("multiselect", Json, list[str]),
)
WIDE_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (f"c{i:02d}_{kind}", kind) for i in range(50) for kind in (WIDE_TYPES[i % len(WIDE_TYPES)][0],)
)
_WIDE_COLUMN_TYPES = {kind: column_type for kind, column_type, _ in WIDE_TYPES}
_WIDE_PYTHON_TYPES = {kind: python_type for kind, _, python_type in WIDE_TYPES}

wide = Table(
    "bench__wide",
    metadata,
    *system_columns(),
    *(Column(key, _WIDE_COLUMN_TYPES[kind]) for key, kind in WIDE_FIELDS),
)

# ----------------------------------------------------------------- models

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
EmailText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    amount: Money | None = None
    qty: int | None = None
    kind: Literal["a", "b", "c"] | None = None
    due: date | None = None
    email: EmailText | None = None
    paid: bool | None = None
    notes: str | None = None


class RecordOut(BaseModel):
    id: int
    version: int
    status: str
    created_at: datetime
    updated_at: datetime
    created_by: int | None
    updated_by: int | None
    owner_id: int | None
    department_id: int | None


class OrderOut(RecordOut):
    title: str | None
    amount: Decimal | None
    qty: int | None
    kind: str | None
    due: date | None
    email: str | None
    paid: bool | None
    notes: str | None


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None
    total: int
    total_exact: bool


WideOut = create_model(  # 50 typed attributes, as one would write them out
    "WideOut",
    __base__=RecordOut,
    **{key: (_WIDE_PYTHON_TYPES[kind] | None, ...) for key, kind in WIDE_FIELDS},
)


class WidePage(BaseModel):
    items: list[WideOut]  # type: ignore[valid-type]
    next_cursor: str | None


# ------------------------------------------------------------------- app


def _cursor(*values: Any) -> str:
    text = json.dumps([str(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def create_app() -> FastAPI:
    db = Database(os.environ["BENCH_DATABASE_URL"])
    form_ids: dict[str, int] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        d = tables.definitions
        async with db.session() as session:
            rows = await session.execute(select(d.c.key, d.c.id).where(d.c.app_key == APP, d.c.kind == "form"))
            form_ids.update({key: id_ for key, id_ in rows})
        app.state.principals = await PrincipalCache(db).start()  # authentication as Opsloom's
        freeze_garbage_collector()  # as `opsloom serve` has the generated API's process do
        try:
            yield
        finally:
            await app.state.principals.stop()
            await db.dispose()

    app = FastAPI(lifespan=lifespan, dependencies=[Depends(authenticated)])
    app.state.db = db  # read by `authenticated`, with the run-time settings it refreshes
    app.state.site_settings = SettingsStore(Settings(database_url=os.environ["BENCH_DATABASE_URL"], secret_key="bench"))
    install_error_handlers(app)

    @app.post("/orders", status_code=201, response_model=OrderOut)
    async def create_order(body: OrderIn, request: Request, response: Response) -> Any:
        return await store_order(body, request, response, logged=False)

    @app.post("/orders/logged", status_code=201, response_model=OrderOut)
    async def create_order_logged(body: OrderIn, request: Request, response: Response) -> Any:
        """The create with the other rows Opsloom's create writes: an audit line and an outbox event."""
        return await store_order(body, request, response, logged=True)

    async def store_order(body: OrderIn, request: Request, response: Response, *, logged: bool) -> Any:
        now = datetime.now(UTC)
        user: Principal = request.state.principal
        system = {
            "version": 1,
            "status": "draft",
            "created_at": now,
            "created_by": user.user_id,
            "updated_at": now,
            "updated_by": user.user_id,
            "owner_id": user.user_id,
            "department_id": user.department_id,
        }
        async with db.session(write=True) as session:
            row = (
                (await session.execute(insert(orders).values(**system, **body.model_dump()).returning(*orders.c)))
                .mappings()
                .one()
            )
            record = OrderOut.model_validate(dict(row))
            after = record.model_dump(mode="json", include=set(ORDER_FIELDS))
            await session.execute(
                insert(tables.record_history).values(
                    form_id=form_ids["order"],
                    record_id=record.id,
                    record_version=1,
                    action="create",
                    actor_id=user.user_id,
                    at=now,
                    changes={k: {"before": None, "after": v} for k, v in after.items() if v is not None},
                )
            )
            if logged:
                await session.execute(
                    insert(tables.audit_log).values(
                        at=now,
                        actor_id=user.user_id,
                        action="record.create",
                        target=f"{APP}/order/{record.id}",
                        ip=request.client.host if request.client else None,
                        detail={"version": 1},
                    )
                )
                await session.execute(
                    insert(tables.outbox).values(
                        topic="record.created",
                        app_key=APP,
                        form_key="order",
                        record_id=record.id,
                        actor_id=user.user_id,
                        payload={"via": "api", "record": record.model_dump(mode="json")},
                        created_at=now,
                    )
                )
        response.headers["Location"] = f"{request.url.path}/{record.id}"
        response.headers["ETag"] = f'"{record.version}"'
        return record

    @app.get("/orders/{order_id}", response_model=OrderOut)
    async def read_order(order_id: Annotated[int, Path(ge=1)], response: Response) -> Any:
        statement = select(orders).where(orders.c.id == order_id, orders.c.deleted_at.is_(None))
        async with db.session() as session:
            row = (await session.execute(statement)).mappings().first()
        if row is None:
            raise HTTPException(404, f"order {order_id} not found")
        response.headers["ETag"] = f'"{row["version"]}"'
        return row

    @app.get("/orders", response_model=OrderPage)
    async def list_orders(amount_gt: Decimal | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Any:
        where = [orders.c.deleted_at.is_(None)]
        if amount_gt is not None:
            where.append(orders.c.amount > amount_gt)
        page = select(orders).where(*where).order_by(orders.c.amount.desc(), orders.c.id.desc()).limit(limit + 1)
        bounded = select(orders.c.id).where(*where).limit(COUNT_CAP + 1).subquery()
        async with db.session() as session:
            rows: list[Mapping[str, Any]] = list((await session.execute(page)).mappings())
            total = (await session.execute(select(func.count()).select_from(bounded))).scalar_one()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = _cursor(rows[-1]["amount"], rows[-1]["id"])
        return {
            "items": rows,
            "next_cursor": next_cursor,
            "total": min(total, COUNT_CAP),
            "total_exact": total <= COUNT_CAP,
        }

    @app.get("/wide", response_model=WidePage)
    async def list_wide(before_id: int | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Any:
        page = select(wide).where(wide.c.deleted_at.is_(None))
        if before_id is not None:
            page = page.where(wide.c.id < before_id)
        page = page.order_by(wide.c.id.desc()).limit(limit + 1)
        async with db.session() as session:
            rows: list[Mapping[str, Any]] = list((await session.execute(page)).mappings())
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = _cursor(rows[-1]["id"])
        return {"items": rows, "next_cursor": next_cursor}

    return app

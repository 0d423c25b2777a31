"""SQLite: a form's live-record indexes end with `deleted_at` instead of leading with it.

0017 made them `(deleted_at, column) WHERE deleted_at IS NULL`. Without statistics of the table,
SQLite's planner takes `deleted_at IS NULL` on the leading column for a selective equality: a page
through `id < X` then read and sorted every live record instead of walking the primary key. As
`(column, deleted_at)` the index still covers a count by the column. PostgreSQL's indexes are left
as they are.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import Json

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _reshape(last=True)


def downgrade() -> None:
    _reshape(last=False)


def _reshape(*, last: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    definitions = sa.table("opsloom_definitions", sa.column("kind"), sa.column("storage", Json))
    stored = bind.execute(sa.select(definitions.c.storage).where(definitions.c.kind == "form")).scalars()
    owned = {storage["table"] for storage in stored if storage and storage.get("table")}
    inspector = sa.inspect(bind)
    for table in sorted(owned & set(inspector.get_table_names())):
        where = sa.table(table, sa.column("deleted_at")).c.deleted_at.is_(None)
        for index in inspector.get_indexes(table):
            name, columns = index["name"] or "", [c for c in index["column_names"] if c]
            if index["unique"] or not name.startswith("ix_") or len(columns) != 2 or "deleted_at" not in columns:
                continue
            (column,) = (c for c in columns if c != "deleted_at")
            op.drop_index(name, table_name=table)
            op.create_index(name, table, [column, "deleted_at"] if last else ["deleted_at", column], sqlite_where=where)

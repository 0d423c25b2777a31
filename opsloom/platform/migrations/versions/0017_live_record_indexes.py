"""Forms' non-unique indexes hold live records only, in the shape each database counts from alone.

A count or a page of a form's records always asks for `deleted_at IS NULL`. A plain index on a field
made the database visit each matching row for its `deleted_at`; these hold live records only
(`WHERE deleted_at IS NULL`), and on SQLite lead with `deleted_at` so that the index covers the query.
New tables are made so by the form's compiled table; this rebuilds the indexes of tables made before,
under the same names.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import Json

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rebuild(live=True)


def downgrade() -> None:
    _rebuild(live=False)


def _form_tables(bind: Any) -> set[str]:
    """The tables that hold forms' records, as the forms' storage names them (never another's table)."""
    definitions = sa.table("opsloom_definitions", sa.column("kind"), sa.column("storage", Json))
    stored = bind.execute(sa.select(definitions.c.storage).where(definitions.c.kind == "form")).scalars()
    return {storage["table"] for storage in stored if storage and storage.get("table")}


def _rebuild(*, live: bool) -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    inspector = sa.inspect(bind)
    for table in sorted(_form_tables(bind) & set(inspector.get_table_names())):
        # A form's own table (a subform's rows, with no soft delete, keep plain indexes).
        where = sa.table(table, sa.column("deleted_at")).c.deleted_at.is_(None)
        for index in inspector.get_indexes(table):
            name = index["name"] or ""
            columns = [c for c in index["column_names"] if c and c != "deleted_at"]
            if index["unique"] or not name.startswith("ix_") or len(columns) != 1:
                continue
            op.drop_index(name, table_name=table)
            options: dict[str, Any] = {f"{dialect}_where": where} if live else {}
            shape = ["deleted_at", *columns] if live and dialect == "sqlite" else columns
            op.create_index(name, table, shape, **options)

"""Languages: a user's locale is NULL until they choose one; a task keeps its step's name in every language.

`opsloom_users.locale` becomes nullable with no default (existing rows keep
their value). SQLite cannot relax NOT NULL in place, and rebuilding the users
table would break the foreign keys that point at it, so there the column is
renamed aside, added again, copied and dropped (native since SQLite 3.35).

`opsloom_flow_tasks.node_labels` holds the step's translations; tasks made
before it have only `node_label`, which stays readable.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import Json

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

USERS = "opsloom_users"


def upgrade() -> None:
    op.add_column("opsloom_flow_tasks", sa.Column("node_labels", Json, nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _replace_locale_column(nullable=True)
    else:
        op.alter_column(USERS, "locale", existing_type=sa.String(16), nullable=True)


def downgrade() -> None:
    users = sa.table(USERS, sa.column("locale", sa.String(16)))
    op.execute(users.update().where(users.c.locale.is_(None)).values(locale="zh-CN"))
    if op.get_bind().dialect.name == "sqlite":
        _replace_locale_column(nullable=False)
    else:
        op.alter_column(USERS, "locale", existing_type=sa.String(16), nullable=False)
    op.drop_column("opsloom_flow_tasks", "node_labels")


def _replace_locale_column(*, nullable: bool) -> None:
    op.alter_column(USERS, "locale", new_column_name="locale_before", existing_type=sa.String(16))
    default = None if nullable else sa.text("'zh-CN'")  # SQLite adds a NOT NULL column only with a default
    op.add_column(USERS, sa.Column("locale", sa.String(16), nullable=nullable, server_default=default))
    users = sa.table(USERS, sa.column("locale", sa.String(16)), sa.column("locale_before", sa.String(16)))
    op.execute(users.update().values(locale=users.c.locale_before))
    op.drop_column(USERS, "locale_before")

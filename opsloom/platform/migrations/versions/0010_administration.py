"""Administration: a person's employee number, and an audit log that only grows.

`opsloom_users.employee_no` is the number HR gives a person (unique when set).
The audit log refuses UPDATE and DELETE in the database itself (a trigger on
each database), so no code path, present or future, can rewrite the trail.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

AUDIT = "opsloom_audit_log"
REFUSAL = "the audit log is append-only: entries cannot be changed or deleted"


def upgrade() -> None:
    op.add_column("opsloom_users", sa.Column("employee_no", sa.String(32), nullable=True))
    op.create_index("ix_opsloom_users_employee_no", "opsloom_users", ["employee_no"], unique=True)
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {AUDIT}_no_{event.lower()} BEFORE {event} ON {AUDIT} "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )
    else:
        op.execute(
            f"CREATE FUNCTION {AUDIT}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {AUDIT}_append_only BEFORE UPDATE OR DELETE ON {AUDIT} "
            f"FOR EACH ROW EXECUTE FUNCTION {AUDIT}_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER {AUDIT}_no_{event}")
    else:
        op.execute(f"DROP TRIGGER {AUDIT}_append_only ON {AUDIT}")
        op.execute(f"DROP FUNCTION {AUDIT}_append_only()")
    op.drop_index("ix_opsloom_users_employee_no", table_name="opsloom_users")
    op.drop_column("opsloom_users", "employee_no")

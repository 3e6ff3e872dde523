"""append-only tables refuse TRUNCATE on PostgreSQL

Row triggers do not fire on TRUNCATE: a statement trigger per guarded table now refuses it.
(SQLite has no TRUNCATE; its INSERT OR REPLACE is refused by the delete trigger since the
connections turn ``recursive_triggers`` on: ``store/db.py``.)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

"""

from collections.abc import Sequence

from alembic import op

from schoolmode.store.triggers import drop_no_truncate_ddl, no_truncate_ddl

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUARDED = (
    "decision_run",
    "decision",
    "authorisation",
    "accommodation_review",
    "accommodation_decision",
    "accommodation_appeal",
    "vaccination_schedule_run",
    "vaccination_appointment",
    "screening_plan",
    "screening_pool_member",
    "screening_result",
    "trace_run",
    "traced_contact",
    "traced_order",
    "trace_exception",
    "outbreak_confirmation",
    "access_log",
)
"""Every table made append-only by migrations 0002-0005 and 0007."""


def upgrade() -> None:
    for statement in no_truncate_ddl(op.get_bind().dialect.name, GUARDED):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_no_truncate_ddl(op.get_bind().dialect.name, GUARDED):
        op.execute(statement)

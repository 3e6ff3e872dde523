"""evidence: finished jobs published on the public evidence pages

A backtest, sweep or simulation job whose files passed the small-count check is published
under a title and a note by someone allowed to (``evidence:publish``); the public pages then
show its report, plots and data. Append-only (UPDATE, DELETE and SQLite's ``INSERT OR
REPLACE`` refused; TRUNCATE refused on PostgreSQL): what was published stays on the record.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from schoolmode.store.triggers import (
    create_append_only,
    drop_append_only,
    drop_no_truncate_ddl,
    no_truncate_ddl,
)

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("evidence",)


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, comment="What it shows, by whom published."),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_evidence_job_id_job")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        comment=(
            "A finished backtest, sweep or simulation job published on the public evidence "
            "pages (migration 0023), after its files passed the small-count check; never "
            "changed."
        ),
    )
    create_append_only(APPEND_ONLY)
    for statement in no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    drop_append_only(APPEND_ONLY)
    op.drop_table("evidence")

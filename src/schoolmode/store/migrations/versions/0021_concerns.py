"""concerns: the union safety committee's concerns, filed and tracked

``concern``: what was filed (a school, or the district as a whole; a subject and the text; who
filed it, with which role, when). ``concern_event``: every answer or follow-up (acknowledged,
answered, closed, reopened, or a comment), with its note, who and when; a concern's status is its
latest event's. Both append-only (UPDATE, DELETE and SQLite's ``INSERT OR REPLACE`` refused;
TRUNCATE refused on PostgreSQL): a concern and what was said about it are never rewritten.

Revision ID: 0021
Revises: 0020
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

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("concern", "concern_event")


def upgrade() -> None:
    op.create_table(
        "concern",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "school_id",
            sa.String(length=40),
            nullable=True,
            comment="The school concerned; none: the district as a whole.",
        ),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_by", sa.String(length=200), nullable=False),
        sa.Column(
            "filed_role", sa.String(length=40), nullable=False, comment="The role of the account."
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concern")),
        comment=(
            "A safety concern filed by the union's safety committee (migration 0021); "
            "append-only: what follows is in concern_event."
        ),
    )
    op.create_index("ix_concern_school", "concern", ["school_id"])
    op.create_table(
        "concern_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("concern_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.String(length=20),
            nullable=False,
            comment="acknowledged, answered, closed, reopened or comment (status unchanged).",
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["concern_id"], ["concern.id"], name=op.f("fk_concern_event_concern_id_concern")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concern_event")),
        comment="Each answer to, or follow-up of, a concern; never updated or deleted.",
    )
    op.create_index("ix_concern_event_concern", "concern_event", ["concern_id"])
    create_append_only(APPEND_ONLY)
    for statement in no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    drop_append_only(APPEND_ONLY)
    op.drop_index("ix_concern_event_concern", table_name="concern_event")
    op.drop_table("concern_event")
    op.drop_index("ix_concern_school", table_name="concern")
    op.drop_table("concern")

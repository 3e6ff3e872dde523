"""refusal: a named body's refusal to act on an eligible rule, with its reason

An eligible change that the body named in the agreement declines is recorded as such (who, why,
when, by whom), so that the role views stop listing it as awaiting a decision and the audit
trail holds both answers, not only "act". Append-only (UPDATE, DELETE and SQLite's
``INSERT OR REPLACE`` refused; TRUNCATE refused on PostgreSQL) and a link of the hash chain
(``store/chain.py``), like the authorisations.

Revision ID: 0020
Revises: 0019
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

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("refusal",)


def upgrade() -> None:
    op.create_table(
        "refusal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.Column(
            "date",
            sa.Date(),
            nullable=False,
            comment="The day the eligible change was refused for.",
        ),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refusal")),
        comment=(
            "A named body's refusal to act on an eligible rule, with its reason (migration "
            "0020); append-only."
        ),
    )
    op.create_index("ix_refusal_policy_unit", "refusal", ["policy_id", "unit", "date"])
    create_append_only(APPEND_ONLY)
    for statement in no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    drop_append_only(APPEND_ONLY)
    op.drop_index("ix_refusal_policy_unit", table_name="refusal")
    op.drop_table("refusal")

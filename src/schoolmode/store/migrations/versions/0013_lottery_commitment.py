"""the accommodation lottery's seed committed before the draw (commit-reveal)

``lottery_commitment`` (append-only, no TRUNCATE on PostgreSQL) records, before any request is
ranked, the review's day, policy and quota rules, the digest of the eligible pool and
``sha256("schoolmode-lottery:<nonce>:<seed>")``; a review now names the commitment it reveals
(``accommodation_review.commitment_id``) and records the nonce beside the seed, so anyone can
check the reveal against the commitment. Reviews recorded before this revision have neither.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

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

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("lottery_commitment",)


def upgrade() -> None:
    op.create_table(
        "lottery_commitment",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False, comment="Day of the review."),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column(
            "settings_json",
            sa.Text(),
            nullable=False,
            comment="Interpretation and parameter settings.",
        ),
        sa.Column(
            "rules_json",
            sa.Text(),
            nullable=False,
            comment="The quota rule: each kind's share and source, the rounding.",
        ),
        sa.Column(
            "pool_sha256",
            sa.String(length=64),
            nullable=False,
            comment="sha256 of the eligible pending request ids, sorted, one a line.",
        ),
        sa.Column("pool_size", sa.Integer(), nullable=False),
        sa.Column(
            "commitment_sha256",
            sa.String(length=64),
            nullable=False,
            comment='sha256("schoolmode-lottery:<nonce>:<seed>"); never the seed.',
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lottery_commitment")),
        sa.UniqueConstraint(
            "commitment_sha256", name=op.f("uq_lottery_commitment_commitment_sha256")
        ),
        comment="A lottery seed committed before the draw; never updated or deleted.",
    )
    op.add_column(
        "accommodation_review",
        sa.Column(
            "commitment_id",
            sa.Integer(),
            nullable=True,
            comment="The lottery_commitment revealed (none: reviews before commitments).",
        ),
    )
    op.add_column(
        "accommodation_review",
        sa.Column(
            "seed_nonce",
            sa.String(length=64),
            nullable=True,
            comment="The commitment's nonce, revealed with the seed.",
        ),
    )
    create_append_only(APPEND_ONLY)
    for statement in no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    drop_append_only(APPEND_ONLY)
    with op.batch_alter_table("accommodation_review") as batch:
        batch.drop_column("seed_nonce")
        batch.drop_column("commitment_id")
    op.drop_table("lottery_commitment")

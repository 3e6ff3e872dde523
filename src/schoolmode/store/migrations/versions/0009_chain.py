"""the hash chain over decision runs, authorisations and the access log

One link per record (``store/chain.py``), append-only; the records stored before are linked
now, oldest first.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from schoolmode.store.chain import backfill
from schoolmode.store.triggers import (
    create_append_only,
    drop_append_only,
    drop_no_truncate_ddl,
    no_truncate_ddl,
)

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("chain_link",)


def upgrade() -> None:
    op.create_table(
        "chain_link",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_table", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column(
            "content_sha256", sa.String(length=64), nullable=False, comment="Digest of the record."
        ),
        sa.Column("prev_sha256", sa.String(length=64), nullable=False, comment="The link before."),
        sa.Column("link_sha256", sa.String(length=64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_link")),
        sa.UniqueConstraint("prev_sha256", name=op.f("uq_chain_link_prev_sha256")),
        sa.UniqueConstraint("link_sha256", name=op.f("uq_chain_link_link_sha256")),
        comment=(
            "One link per audit record (decision runs, authorisations, the access log): the "
            "record's digest and the previous link's; never updated or deleted."
        ),
    )
    op.create_index(
        "ix_chain_link_record", "chain_link", ["record_table", "record_id"], unique=True
    )
    create_append_only(APPEND_ONLY)
    for statement in no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    backfill(op.get_bind())


def downgrade() -> None:
    for statement in drop_no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    drop_append_only(APPEND_ONLY)
    op.drop_index("ix_chain_link_record", table_name="chain_link")
    op.drop_table("chain_link")

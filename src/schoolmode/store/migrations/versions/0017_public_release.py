"""public releases: what the public was shown, stored and never changed

``public_release`` (one release of a period's counts: a day's school and district counts, a
week's cases, the citywide and ZIP tables), ``public_release_table`` (its tables as
published, Parquet) and ``public_release_input`` (the exact figures it was made from, never
served: a later release of the period protects what both show together). All append-only (UPDATE, DELETE and SQLite's ``INSERT OR REPLACE``
refused; TRUNCATE refused on PostgreSQL); each release is a link of the hash chain
(``store/chain.py``), so a rewritten release is named by ``audit verify``.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

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

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("public_release", "public_release_table", "public_release_input")


def upgrade() -> None:
    op.create_table(
        "public_release",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "kind", sa.String(length=10), nullable=False, comment="day, week, citywide or zip"
        ),
        sa.Column(
            "period_start", sa.Date(), nullable=False, comment="First day the release covers."
        ),
        sa.Column("period_end", sa.Date(), nullable=False, comment="Last day the release covers."),
        sa.Column(
            "rule_id",
            sa.String(length=40),
            nullable=False,
            comment="The suppression rule applied.",
        ),
        sa.Column(
            "data_version", sa.Integer(), nullable=False, comment="The latest import it read."
        ),
        sa.Column(
            "inputs_sha256",
            sa.String(length=64),
            nullable=False,
            comment=(
                "Digest of the exact figures released (never served: it would help guess them)."
            ),
        ),
        sa.Column(
            "published_sha256",
            sa.String(length=64),
            nullable=False,
            comment="Digest of what was published.",
        ),
        sa.Column(
            "cells", sa.Integer(), nullable=False, comment="Counts of people in the release."
        ),
        sa.Column("hidden", sa.Integer(), nullable=False, comment="Of which suppressed."),
        sa.Column(
            "notes", sa.Text(), nullable=False, comment="JSON list: what was published coarser."
        ),
        sa.Column("software_version", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_release")),
        comment=(
            "One public release of a period's counts (suppressed): what anyone without a login "
            "was shown; a later release of the same period keeps what this one published."
        ),
    )
    op.create_index("ix_public_release_period", "public_release", ["kind", "period_start"])
    op.create_table(
        "public_release_table",
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column(
            "name",
            sa.String(length=40),
            nullable=False,
            comment="school, district, school_week, ...",
        ),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "content",
            sa.LargeBinary(),
            nullable=False,
            comment="The table as published (Parquet).",
        ),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["public_release.id"],
            name=op.f("fk_public_release_table_release_id_public_release"),
        ),
        sa.PrimaryKeyConstraint("release_id", "name", name=op.f("pk_public_release_table")),
        comment="The tables of a public release, as published; never changed.",
    )
    op.create_table(
        "public_release_input",
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column(
            "content",
            sa.LargeBinary(),
            nullable=False,
            comment="The exact figures (Parquet).",
        ),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["public_release.id"],
            name=op.f("fk_public_release_input_release_id_public_release"),
        ),
        sa.PrimaryKeyConstraint("release_id", "name", name=op.f("pk_public_release_input")),
        comment=(
            "The exact figures a public release was made from, so that a later release of the "
            "period protects what both show together; never served, never changed."
        ),
    )
    create_append_only(APPEND_ONLY)
    for statement in no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    drop_append_only(APPEND_ONLY)
    op.drop_table("public_release_input")
    op.drop_table("public_release_table")
    op.drop_index("ix_public_release_period", table_name="public_release")
    op.drop_table("public_release")

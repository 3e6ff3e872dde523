"""accounts, API tokens (stored as their sha256) and the access log (append-only)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from schoolmode.store.triggers import create_append_only, drop_append_only

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("access_log",)


def _stamp(verb: str, nullable: bool = False) -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(f"{verb}_at", sa.DateTime(timezone=True), nullable=nullable),
        sa.Column(f"{verb}_by", sa.String(length=200), nullable=nullable),
    ]


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False, comment="access.roles.Role"),
        sa.Column(
            "scope",
            sa.String(length=200),
            nullable=False,
            comment="district, network:ID or school:ID",
        ),
        sa.Column(
            "password_hash", sa.Text(), nullable=True, comment="argon2id; none: tokens only."
        ),
        *_stamp("created"),
        *_stamp("disabled", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("name", name=op.f("uq_account_name")),
        comment="A person or service that logs in; disabled, never deleted.",
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False, comment="Never the token."),
        sa.Column(
            "kind",
            sa.String(length=16),
            nullable=False,
            comment="service (created) or login (password)",
        ),
        sa.Column("label", sa.String(length=200), nullable=False),
        *_stamp("created"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        *_stamp("revoked", nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_api_token_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_token_token_sha256")),
        comment="A bearer token of an account, stored as its sha256; revoked, never deleted.",
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "principal",
            sa.String(length=100),
            nullable=True,
            comment="Account name; none: anonymous.",
        ),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column(
            "action", sa.String(length=16), nullable=False, comment="read (personal data) or write"
        ),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("params_json", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True, comment="Rows returned, for a read."),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
        comment="Every read of personal data and every write, by whom; never updated or deleted.",
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    create_append_only(APPEND_ONLY)


def downgrade() -> None:
    drop_append_only(APPEND_ONLY)
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_table("access_log")
    op.drop_table("api_token")
    op.drop_table("account")

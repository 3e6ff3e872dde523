"""browser sessions (cookies, stored as their sha256), OpenID Connect logins under way, and the
OpenID subject of an account

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "account",
        sa.Column(
            "oidc_subject",
            sa.String(length=255),
            nullable=True,
            comment="The OpenID provider's `sub` of this person; none: no OpenID login.",
        ),
    )
    op.create_index("uq_account_oidc_subject", "account", ["oidc_subject"], unique=True)
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "session_sha256", sa.String(length=64), nullable=False, comment="Never the cookie."
        ),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False, comment="password or oidc"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "expires_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="Absolute timeout.",
        ),
        sa.Column(
            "last_seen_at", sa.DateTime(timezone=True), nullable=False, comment="Idle timeout."
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_web_session_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
        sa.UniqueConstraint("session_sha256", name=op.f("uq_web_session_session_sha256")),
        comment="A browser's login (cookie), stored as the cookie's sha256; revoked, never deleted.",
    )
    op.create_table(
        "oidc_login",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("state_sha256", sa.String(length=64), nullable=False, comment="Never the state."),
        sa.Column("nonce", sa.String(length=100), nullable=False),
        sa.Column("code_verifier", sa.String(length=200), nullable=False, comment="PKCE (S256)."),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "used_at", sa.DateTime(timezone=True), nullable=True, comment="Used once at most."
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_login")),
        sa.UniqueConstraint("state_sha256", name=op.f("uq_oidc_login_state_sha256")),
        comment="An OpenID Connect login under way: its state, nonce and PKCE verifier.",
    )


def downgrade() -> None:
    op.drop_table("oidc_login")
    op.drop_table("web_session")
    op.drop_index("uq_account_oidc_subject", table_name="account")
    with op.batch_alter_table("account") as batch:
        batch.drop_column("oidc_subject")

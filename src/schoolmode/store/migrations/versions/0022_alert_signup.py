"""alert sign-up: e-mail subscriptions made by anyone, confirmed by a link

A subscription made from the public pages or the API is told nothing until its address
confirms it (``confirmed_at``; the link's token kept only as ``confirm_sha256``); every e-mail
carries a link to stop it (``manage_token``); the confirmation is in the sign-up's language
(``language``).
Subscriptions made before (by an operator, ``schoolmode alerts subscribe``) count as confirmed
when they were made.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert_subscription") as batch:
        batch.add_column(
            sa.Column(
                "confirm_sha256",
                sa.String(length=64),
                nullable=True,
                comment="sha256 of the e-mailed confirmation token.",
            )
        )
        batch.add_column(
            sa.Column(
                "confirmed_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="None: not confirmed, told nothing.",
            )
        )
        batch.add_column(
            sa.Column(
                "manage_token",
                sa.String(length=64),
                nullable=True,
                comment="The unsubscribe link's token (e-mail sign-ups).",
            )
        )
        batch.add_column(
            sa.Column(
                "language",
                sa.String(length=8),
                nullable=True,
                comment="The language of the sign-up (its confirmation e-mail).",
            )
        )
    op.execute("UPDATE alert_subscription SET confirmed_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("alert_subscription") as batch:
        batch.drop_column("language")
        batch.drop_column("manage_token")
        batch.drop_column("confirmed_at")
        batch.drop_column("confirm_sha256")

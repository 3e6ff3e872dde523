"""alerts: subscriptions (webhooks, e-mail) and every delivery attempt

``alert_subscription``: a webhook URL (with its signing key) or an e-mail address, following
one school or the whole district; revoked, never deleted. ``alert_delivery``: each attempt
to tell a subscription of a change of mode or status (sent or failed, with the answer);
append-only (UPDATE, DELETE and SQLite's ``INSERT OR REPLACE`` refused; TRUNCATE refused on
PostgreSQL).

Revision ID: 0019
Revises: 0018
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

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("alert_delivery",)


def upgrade() -> None:
    op.create_table(
        "alert_subscription",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False, comment="webhook or email"),
        sa.Column(
            "target",
            sa.String(length=500),
            nullable=False,
            comment="The URL, or the e-mail address.",
        ),
        sa.Column(
            "school_id",
            sa.String(length=40),
            nullable=True,
            comment="The school followed; none: the district and every school.",
        ),
        sa.Column(
            "secret",
            sa.String(length=64),
            nullable=True,
            comment="A webhook's signing key (HMAC-SHA256 of each body), shown once.",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_subscription")),
        comment="Who is told when a mode or status changes: a webhook or an e-mail address.",
    )
    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.Column("date", sa.Date(), nullable=False, comment="The day of the change."),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False, comment="sent or failed"),
        sa.Column("detail", sa.Text(), nullable=True, comment="The answer, or why it failed."),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["alert_subscription.id"],
            name=op.f("fk_alert_delivery_subscription_id_alert_subscription"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["decision_run.id"], name=op.f("fk_alert_delivery_run_id_decision_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_delivery")),
        comment="Each attempt to tell a subscription of a change; never updated or deleted.",
    )
    op.create_index(
        "ix_alert_delivery_key",
        "alert_delivery",
        ["subscription_id", "scope", "unit", "date", "run_id"],
    )
    create_append_only(APPEND_ONLY)
    for statement in no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    drop_append_only(APPEND_ONLY)
    op.drop_index("ix_alert_delivery_key", table_name="alert_delivery")
    op.drop_table("alert_delivery")
    op.drop_table("alert_subscription")

"""staff operations: accommodation reviews, decisions and appeals; vaccination schedules; append-only

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from schoolmode.store.triggers import create_append_only, drop_append_only

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = (
    "accommodation_review",
    "accommodation_decision",
    "accommodation_appeal",
    "vaccination_schedule_run",
    "vaccination_appointment",
)


def upgrade() -> None:
    op.create_table(
        "accommodation_review",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False, comment="Day the policy was read for."),
        sa.Column(
            "seed", sa.BigInteger(), nullable=False, comment="Lottery seed, drawn in the open."
        ),
        sa.Column(
            "settings_json",
            sa.Text(),
            nullable=False,
            comment="Interpretation and parameter settings.",
        ),
        sa.Column(
            "pools_json",
            sa.Text(),
            nullable=False,
            comment="Per kind: share, counts, places and the ranked lottery list.",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accommodation_review")),
        comment="One selection run over pending accommodation requests; never updated or deleted.",
    )
    op.create_table(
        "accommodation_decision",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column(
            "appeal_id",
            sa.Integer(),
            nullable=True,
            comment="The appeal this decision answers (accommodation_appeal.id), if any.",
        ),
        sa.Column(
            "supersedes_id",
            sa.Integer(),
            nullable=True,
            comment="The decision this one replaces (on appeal).",
        ),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("person_id", sa.String(length=100), nullable=False),
        sa.Column("basis", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False, comment="granted or denied"),
        sa.Column(
            "rule",
            sa.String(length=32),
            nullable=False,
            comment="all_granted, lottery, no_provision or appeal",
        ),
        sa.Column("lottery_rank", sa.Integer(), nullable=True),
        sa.Column("pool_size", sa.Integer(), nullable=True),
        sa.Column("places", sa.Integer(), nullable=True, comment="Free places in the lottery."),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["accommodation_review.id"],
            name=op.f("fk_accommodation_decision_review_id_accommodation_review"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["accommodation_decision.id"],
            name=op.f("fk_accommodation_decision_supersedes_id_accommodation_decision"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accommodation_decision")),
        comment="A decision on an accommodation request, with its reason; never updated or deleted.",
    )
    op.create_index(
        "ix_accommodation_decision_request_id", "accommodation_decision", ["request_id"]
    )
    op.create_table(
        "accommodation_appeal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("grounds", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["accommodation_decision.id"],
            name=op.f("fk_accommodation_appeal_decision_id_accommodation_decision"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accommodation_appeal")),
        comment="An appeal against a decision; its outcome is a new decision. Append-only.",
    )
    op.create_index("ix_accommodation_appeal_request_id", "accommodation_appeal", ["request_id"])
    op.create_table(
        "vaccination_schedule_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("weeks", sa.Integer(), nullable=False),
        sa.Column(
            "rules_json",
            sa.Text(),
            nullable=False,
            comment="The policy's scheduling rules as read.",
        ),
        sa.Column(
            "sites_json",
            sa.Text(),
            nullable=False,
            comment="Sites and daily capacities; [] if none.",
        ),
        sa.Column("staff", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccination_schedule_run")),
        comment="One recorded staff vaccination schedule; never updated or deleted.",
    )
    op.create_table(
        "vaccination_appointment",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=100), nullable=False),
        sa.Column("dose", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("site_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["vaccination_schedule_run.id"],
            name=op.f("fk_vaccination_appointment_run_id_vaccination_schedule_run"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccination_appointment")),
        comment="A planned dose of a recorded schedule; never updated or deleted.",
    )
    op.create_index("ix_vaccination_appointment_run_id", "vaccination_appointment", ["run_id"])
    op.create_index(
        "ix_vaccination_appointment_person_id", "vaccination_appointment", ["person_id"]
    )
    create_append_only(APPEND_ONLY)


def downgrade() -> None:
    drop_append_only(APPEND_ONLY)
    op.drop_index("ix_vaccination_appointment_person_id", table_name="vaccination_appointment")
    op.drop_index("ix_vaccination_appointment_run_id", table_name="vaccination_appointment")
    op.drop_table("vaccination_appointment")
    op.drop_table("vaccination_schedule_run")
    op.drop_index("ix_accommodation_appeal_request_id", table_name="accommodation_appeal")
    op.drop_table("accommodation_appeal")
    op.drop_index("ix_accommodation_decision_request_id", table_name="accommodation_decision")
    op.drop_table("accommodation_decision")
    op.drop_table("accommodation_review")

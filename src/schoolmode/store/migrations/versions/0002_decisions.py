"""decisions, their runs and authorisations, append-only

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from schoolmode.store.triggers import create_append_only, drop_append_only

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("decision_run", "decision", "authorisation")


def upgrade() -> None:
    op.create_table(
        "decision_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column(
            "policy_hash",
            sa.String(length=80),
            nullable=False,
            comment="Content hash of the resolved policy.",
        ),
        sa.Column(
            "policy_json", sa.Text(), nullable=False, comment="The resolved policy, canonical JSON."
        ),
        sa.Column("engine_version", sa.String(length=20), nullable=False),
        sa.Column(
            "settings_json",
            sa.Text(),
            nullable=False,
            comment="Interpretations and parameter overrides.",
        ),
        sa.Column("first_date", sa.Date(), nullable=False, comment="First day decided."),
        sa.Column("last_date", sa.Date(), nullable=False, comment="Last day decided."),
        sa.Column(
            "inputs_sha256",
            sa.String(length=64),
            nullable=False,
            comment="Digest of the input rows.",
        ),
        sa.Column(
            "inputs_parquet",
            sa.LargeBinary(),
            nullable=False,
            comment="The input rows, Parquet per scope.",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_run")),
        comment="One evaluation of a policy over stored inputs; never updated or deleted.",
    )
    op.create_index(
        "ix_decision_run_policy_dates", "decision_run", ["policy_id", "first_date", "last_date"]
    )
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=80), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=True, comment="automatic or eligible"),
        sa.Column(
            "decided_by",
            sa.String(length=200),
            nullable=True,
            comment="The body that decides, for eligible rules.",
        ),
        sa.Column("trace_json", sa.Text(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["decision_run.id"], name=op.f("fk_decision_run_id_decision_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
        comment="A unit's mode on a day under a run; never updated or deleted.",
    )
    op.create_index("ix_decision_unit_date", "decision", ["scope", "unit", "date"])
    op.create_index("ix_decision_run_id", "decision", ["run_id"])
    op.create_table(
        "authorisation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.Column("date", sa.Date(), nullable=False, comment="First day of the decided mode."),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorisation")),
        comment="A named body's decision on an eligible rule (e.g. the CPS Tactical Team); append-only.",
    )
    op.create_index("ix_authorisation_policy_unit", "authorisation", ["policy_id", "unit", "date"])
    create_append_only(APPEND_ONLY)


def downgrade() -> None:
    drop_append_only(APPEND_ONLY)
    op.drop_index("ix_authorisation_policy_unit", table_name="authorisation")
    op.drop_table("authorisation")
    op.drop_index("ix_decision_run_id", table_name="decision")
    op.drop_index("ix_decision_unit_date", table_name="decision")
    op.drop_table("decision")
    op.drop_index("ix_decision_run_policy_dates", table_name="decision_run")
    op.drop_table("decision_run")

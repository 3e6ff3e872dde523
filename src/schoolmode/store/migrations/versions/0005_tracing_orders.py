"""contact tracing runs, traced contacts and orders, exceptions, outbreak confirmations;
append-only (orders themselves reuse nothing of quarantine_order: that table holds imported
orders, keyed by import; traced orders keep their audit here)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from schoolmode.store.triggers import create_append_only, drop_append_only

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = (
    "trace_run",
    "traced_contact",
    "traced_order",
    "trace_exception",
    "outbreak_confirmation",
)


def upgrade() -> None:
    op.create_table(
        "trace_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False, comment="Cases traced in the run."),
        sa.Column(
            "case_ids_sha256",
            sa.String(length=64),
            nullable=False,
            comment="Digest of the traced case ids.",
        ),
        sa.Column(
            "policies_json",
            sa.Text(),
            nullable=False,
            comment="Policy id -> content hash of every policy the rules were read from.",
        ),
        sa.Column(
            "rules_json",
            sa.Text(),
            nullable=False,
            comment="The rule periods in force (canonical JSON).",
        ),
        sa.Column(
            "local_json",
            sa.Text(),
            nullable=False,
            comment="The district's own quarantine parameters.",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_run")),
        comment="One tracing of stored cases by the rules in force; never updated or deleted.",
    )
    op.create_table(
        "traced_contact",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column(
            "person_id", sa.Text(), nullable=False, comment="Pseudonymous id of the close contact."
        ),
        sa.Column("setting", sa.String(length=16), nullable=False, comment="homeroom or household"),
        sa.Column("classroom_id", sa.Text(), nullable=True),
        sa.Column("last_exposure", sa.Date(), nullable=False, comment="Day 0."),
        sa.Column(
            "attendance",
            sa.String(length=16),
            nullable=False,
            comment="quarantine, test_to_stay or exempt",
        ),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["trace_run.id"], name=op.f("fk_traced_contact_run_id_trace_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traced_contact")),
        comment="A close contact of a case as found by a trace run; never updated or deleted.",
    )
    op.create_index("ix_traced_contact_case", "traced_contact", ["case_id", "person_id"])
    op.create_table(
        "traced_order",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, comment="issued or withdrawn"),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="quarantine or isolation"),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("classroom_id", sa.Text(), nullable=True),
        sa.Column("rule", sa.Text(), nullable=False, comment="The rule in force that set the end."),
        sa.Column(
            "policy_id",
            sa.String(length=100),
            nullable=False,
            comment="Policy the rule was read from.",
        ),
        sa.Column(
            "policy_hash",
            sa.String(length=80),
            nullable=False,
            comment="Content hash of that policy then.",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["trace_run.id"], name=op.f("fk_traced_order_run_id_trace_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traced_order")),
        comment=(
            "An order as issued by a trace run (the latest row of an order_id is its state); "
            "overlapping orders are merged on reading; never updated or deleted."
        ),
    )
    op.create_index("ix_traced_order_order_id", "traced_order", ["order_id"])
    op.create_index("ix_traced_order_person", "traced_order", ["person_id", "start_date"])
    op.create_table(
        "trace_exception",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["trace_run.id"], name=op.f("fk_trace_exception_run_id_trace_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_exception")),
        comment=(
            "A case a trace run could not trace (queued for a person); never updated or deleted."
        ),
    )
    op.create_table(
        "outbreak_confirmation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("classroom_id", sa.Text(), nullable=False, comment="Core group (homeroom)."),
        sa.Column("detected_on", sa.Date(), nullable=False, comment="Day the definition was met."),
        sa.Column(
            "confirmed", sa.Boolean(), nullable=False, comment="The health department's answer."
        ),
        sa.Column(
            "decided_by", sa.String(length=200), nullable=False, comment="Local health department."
        ),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbreak_confirmation")),
        comment=(
            "The local health department's decision on a detected outbreak; the latest row for "
            "a classroom and day stands; never updated or deleted."
        ),
    )
    op.create_index(
        "ix_outbreak_confirmation_room", "outbreak_confirmation", ["classroom_id", "detected_on"]
    )
    create_append_only(APPEND_ONLY)


def downgrade() -> None:
    drop_append_only(APPEND_ONLY)
    op.drop_index("ix_outbreak_confirmation_room", table_name="outbreak_confirmation")
    op.drop_table("outbreak_confirmation")
    op.drop_table("trace_exception")
    op.drop_index("ix_traced_order_person", table_name="traced_order")
    op.drop_index("ix_traced_order_order_id", table_name="traced_order")
    op.drop_table("traced_order")
    op.drop_index("ix_traced_contact_case", table_name="traced_contact")
    op.drop_table("traced_contact")
    op.drop_table("trace_run")

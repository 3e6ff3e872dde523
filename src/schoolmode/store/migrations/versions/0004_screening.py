"""screening: testing consent, plans, pool members, results, exceptions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from schoolmode.store.triggers import create_append_only, drop_append_only

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("screening_plan", "screening_pool_member", "screening_result")


def upgrade() -> None:
    op.create_table(
        "testing_consent",
        sa.Column(
            "person_id",
            sa.Text(),
            nullable=False,
            comment="Pseudonymous person id (student or staff).",
        ),
        sa.Column(
            "start_date",
            sa.Date(),
            nullable=False,
            comment="First day the consent holds (inclusive).",
        ),
        sa.Column(
            "end_date",
            sa.Date(),
            nullable=True,
            comment="Last day (inclusive) when withdrawn; blank while it holds.",
        ),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["import_log.id"], name=op.f("fk_testing_consent_import_id_import_log")
        ),
        sa.PrimaryKeyConstraint("person_id", "start_date", name=op.f("pk_testing_consent")),
        comment="A person's consent to screening tests over a date range (opt-in testing).",
    )
    op.create_index("ix_testing_consent_import_id", "testing_consent", ["import_id"])
    op.create_table(
        "screening_plan",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False, comment="Monday of the week planned."),
        sa.Column(
            "seed",
            sa.BigInteger(),
            nullable=False,
            comment="Recorded seed of the random selection.",
        ),
        sa.Column(
            "parameters_day",
            sa.Date(),
            nullable=False,
            comment="Day whose parameter values were used.",
        ),
        sa.Column(
            "settings_json",
            sa.Text(),
            nullable=False,
            comment="Parameters and readings the plan used.",
        ),
        sa.Column(
            "top_zips_json",
            sa.Text(),
            nullable=False,
            comment="The month's highest-case ZIP codes.",
        ),
        sa.Column(
            "schools_json", sa.Text(), nullable=False, comment="Per-school targets and shortfalls."
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_plan")),
        comment="One week's screening plan; never updated or deleted.",
    )
    op.create_index("ix_screening_plan_week", "screening_plan", ["week_start", "policy_id"])
    op.create_table(
        "screening_pool_member",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("pool_id", sa.String(length=100), nullable=False),
        sa.Column("school_id", sa.Text(), nullable=False),
        sa.Column("person_group", sa.String(length=16), nullable=False, comment="student or staff"),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["screening_plan.id"],
            name=op.f("fk_screening_pool_member_plan_id_screening_plan"),
        ),
        sa.PrimaryKeyConstraint("plan_id", "person_id", name=op.f("pk_screening_pool_member")),
        comment="A person selected for screening in a plan, and the pool of their specimen.",
    )
    op.create_index(
        "ix_screening_pool_member_pool", "screening_pool_member", ["plan_id", "pool_id"]
    )
    op.create_table(
        "screening_result",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.String(length=100), nullable=False),
        sa.Column(
            "pool_id", sa.String(length=100), nullable=True, comment="Set for a pool result."
        ),
        sa.Column(
            "person_id", sa.Text(), nullable=True, comment="Set for an individual (retest) result."
        ),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("specimen_date", sa.Date(), nullable=False),
        sa.Column("result_date", sa.Date(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_row", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["screening_plan.id"],
            name=op.f("fk_screening_result_plan_id_screening_plan"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_result")),
        comment="A pool or individual screening result; one per specimen, never updated or deleted.",
    )
    op.create_index(
        "ix_screening_result_specimen",
        "screening_result",
        ["plan_id", "specimen_id"],
        unique=True,
    )
    op.create_table(
        "screening_exception",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_row", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("row_json", sa.Text(), nullable=False, comment="The result row as read."),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, comment="open or resolved"),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["screening_plan.id"],
            name=op.f("fk_screening_exception_plan_id_screening_plan"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_exception")),
        comment="A result row that needs a person: kept whole until resolved (resolved once).",
    )
    op.create_index("ix_screening_exception_status", "screening_exception", ["status", "plan_id"])
    create_append_only(APPEND_ONLY)
    dialect = op.get_bind().dialect.name
    # exceptions are deleted never; an open one may be resolved once (its resolution is kept)
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER screening_exception_no_delete BEFORE DELETE ON screening_exception "
            "BEGIN SELECT RAISE(ABORT, 'screening_exception rows are never deleted'); END"
        )
        op.execute(
            "CREATE TRIGGER screening_exception_resolve_once BEFORE UPDATE ON screening_exception "
            "WHEN OLD.status <> 'open' BEGIN SELECT RAISE(ABORT, "
            "'screening_exception: a resolved exception is never changed'); END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION screening_exception_guard() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'screening_exception rows are never deleted'; "
            "END IF; IF OLD.status <> 'open' THEN RAISE EXCEPTION "
            "'screening_exception: a resolved exception is never changed'; END IF; RETURN NEW; "
            "END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER screening_exception_guard BEFORE UPDATE OR DELETE ON "
            "screening_exception FOR EACH ROW EXECUTE FUNCTION screening_exception_guard()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS screening_exception_no_delete")
        op.execute("DROP TRIGGER IF EXISTS screening_exception_resolve_once")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS screening_exception_guard ON screening_exception")
        op.execute("DROP FUNCTION IF EXISTS screening_exception_guard()")
    drop_append_only(APPEND_ONLY)
    op.drop_index("ix_screening_exception_status", table_name="screening_exception")
    op.drop_table("screening_exception")
    op.drop_index("ix_screening_result_specimen", table_name="screening_result")
    op.drop_table("screening_result")
    op.drop_index("ix_screening_pool_member_pool", table_name="screening_pool_member")
    op.drop_table("screening_pool_member")
    op.drop_index("ix_screening_plan_week", table_name="screening_plan")
    op.drop_table("screening_plan")
    op.drop_index("ix_testing_consent_import_id", table_name="testing_consent")
    op.drop_table("testing_consent")

"""jobs of the API: ``job`` (a backtest, sweep or simulation: request, state) and ``job_file``
(the files it wrote, as blobs with their sha256; append-only)

The result files are kept in the database, not in a folder: they survive a restart, travel
with the store's backups, and a Dask worker on another machine needs only the store's URL to
write them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

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

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("job_file",)


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "kind", sa.String(length=20), nullable=False, comment="backtest, sweep or simulation"
        ),
        sa.Column(
            "request_json",
            sa.Text(),
            nullable=False,
            comment="The canonical request (sorted JSON).",
        ),
        sa.Column(
            "key_sha256",
            sa.String(length=64),
            nullable=False,
            comment=(
                "sha256 of kind, request, software version and input digest: one result each."
            ),
        ),
        sa.Column("software_version", sa.String(length=40), nullable=False),
        sa.Column(
            "inputs_sha256",
            sa.String(length=64),
            nullable=False,
            comment="Digest of what the job reads.",
        ),
        sa.Column(
            "status",
            sa.String(length=10),
            nullable=False,
            comment="queued, running, done or failed",
        ),
        sa.Column("message", sa.Text(), nullable=True, comment="Why it failed."),
        sa.Column("stage", sa.String(length=200), nullable=True, comment="What it is doing now."),
        sa.Column("progress", sa.Double(), nullable=False, comment="Share done, 0 to 1."),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        comment="A backtest, sweep or simulation run for the API: its request, state and result.",
    )
    op.create_index("ix_job_key_sha256", "job", ["key_sha256"])
    op.create_table(
        "job_file",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column(
            "name", sa.String(length=200), nullable=False, comment="Path within the report folder."
        ),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_job_file_job_id_job")),
        sa.PrimaryKeyConstraint("job_id", "name", name=op.f("pk_job_file")),
        comment=(
            "The files a finished job wrote (its report), kept with their sha256; never changed."
        ),
    )
    create_append_only(APPEND_ONLY)
    for statement in no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_no_truncate_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    drop_append_only(APPEND_ONLY)
    op.drop_table("job_file")
    op.drop_index("ix_job_key_sha256", table_name="job")
    op.drop_table("job")

"""at most one current import per dataset: a partial unique index on ``import_log (source,
dataset) WHERE status = 'current'`` (SQLite and PostgreSQL both have partial indexes)

Two concurrent imports of one source could both commit, each marking its own log row current
(issue 12). The import service now takes a lock per source; the index makes such a mix
impossible at the database level as well: the second transaction's insert fails.

A store already holding such a mix (two or more current rows of one dataset) cannot tell which
file its rows came from: all of that dataset's current rows are marked ``superseded`` (they
stay in the log, and every record keeps its ``import_id``), so the next import of its file
is not mistaken for ``unchanged`` and re-applies the whole file.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT = "status = 'current'"


def upgrade() -> None:
    op.execute(
        "UPDATE import_log SET status = 'superseded' WHERE status = 'current' AND "
        "(source, dataset) IN (SELECT source, dataset FROM import_log WHERE status = 'current' "
        "GROUP BY source, dataset HAVING count(*) > 1)"
    )
    op.create_index(
        "uq_import_log_current",
        "import_log",
        ["source", "dataset"],
        unique=True,
        sqlite_where=sa.text(CURRENT),
        postgresql_where=sa.text(CURRENT),
    )


def downgrade() -> None:
    op.drop_index("uq_import_log_current", table_name="import_log")

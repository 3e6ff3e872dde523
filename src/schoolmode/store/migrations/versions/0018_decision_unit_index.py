"""decisions by unit: an index on (scope, unit, date)

A unit's history (a school's page, its alert feed) reads one unit's decisions over months;
the indexes by day (``ix_decision_date_unit``) and by run and day scan every unit of every day
in the range for it (about 16,000 a day on the full district). This index reads the unit's
rows only.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_decision_unit_date", "decision", ["scope", "unit", "date"])


def downgrade() -> None:
    op.drop_index("ix_decision_unit_date", table_name="decision")

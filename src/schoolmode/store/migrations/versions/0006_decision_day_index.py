"""decisions indexed by day first: ``(date, scope, unit)`` instead of ``(scope, unit, date)``

A day's run appends one row per unit of the district on one date. With the unit first, each
of those rows lands on a different page of the index (15,650 scattered page writes for the
synthetic district: about 2 s to insert and commit on SQLite); with the date first they land
together (0.1 s). The lookups by unit and day (``explain``) use either order.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_decision_unit_date", table_name="decision")
    op.create_index("ix_decision_date_unit", "decision", ["date", "scope", "unit"])


def downgrade() -> None:
    op.drop_index("ix_decision_date_unit", table_name="decision")
    op.create_index("ix_decision_unit_date", "decision", ["scope", "unit", "date"])

"""the accommodation lottery's seed commitments join the hash chain

Every ``lottery_commitment`` gets a link in ``chain_link`` (``store/chain.py``): the ones stored
before are linked now, oldest first (by ``created_at``), after the chain's head; each new one
is linked in the transaction that records it. The table is append-only since migration 0013
(UPDATE, DELETE and so SQLite's ``INSERT OR REPLACE`` refused; TRUNCATE refused on
PostgreSQL), so this adds no guard: a commitment rewritten or deleted with the guards switched
off is now named by ``audit verify``, as is one added by SQL without a link.

Downgrade leaves the links (the chain is append-only; 0009's downgrade drops it).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

"""

from collections.abc import Sequence

from alembic import op

from schoolmode.store.chain import backfill

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    backfill(op.get_bind(), ("lottery_commitment",))


def downgrade() -> None:
    """The links stay: nothing to undo."""

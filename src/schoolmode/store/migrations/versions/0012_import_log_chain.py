"""the import log joins the hash chain and becomes append-only

Every import-log entry gets a link in ``chain_link`` (``store/chain.py``); the entries stored
before are linked now, oldest first (by ``imported_at``), after the chain's head. The import
service links each new entry in the import's own transaction.

The log is guarded like the audit tables, with one exception: an entry's ``status`` may go from
``current`` to ``superseded`` (a later import of its dataset supersedes it and names it in its
own ``supersedes_id``), every other column staying as it was. Any other UPDATE, any DELETE
(and so SQLite's ``INSERT OR REPLACE``: the connections turn ``recursive_triggers`` on) and,
on PostgreSQL, TRUNCATE are refused. The chained content of an entry leaves its status out
while a successor fixes it (see ``store/chain.py``), so the one allowed change keeps the chain
verifiable, and ``audit verify`` checks that every superseded entry says so.

The SQLite guard names the columns of 0012's ``import_log``: a migration that adds a column
must recreate ``import_log_no_update`` with it.

Downgrade removes the guards; the links stay (the chain is append-only; 0009's downgrade drops
it).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

"""

from collections.abc import Sequence

from alembic import op

from schoolmode.store.chain import backfill

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEPT = (
    "id",
    "source",
    "dataset",
    "record_type",
    "file_name",
    "file_sha256",
    "imported_by",
    "imported_at",
    "supersedes_id",
    "rows_in_file",
    "rows_added",
    "rows_changed",
    "rows_removed",
    "rows_unchanged",
    "rows_skipped",
    "notes",
)
"""Every column of the import log but ``status``: never changed."""

MESSAGE = (
    "import_log is append-only: an entry is never changed, only marked superseded "
    "by the import that supersedes it"
)

SQLITE = [
    "CREATE TRIGGER import_log_no_update BEFORE UPDATE ON import_log WHEN NOT ("
    "OLD.status = 'current' AND NEW.status = 'superseded' AND "
    + " AND ".join(f"NEW.{c} IS OLD.{c}" for c in KEPT)
    + f") BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    "CREATE TRIGGER import_log_no_delete BEFORE DELETE ON import_log "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]
POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION import_log_append_only() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'UPDATE' AND OLD.status = 'current' AND NEW.status = 'superseded' "
    "AND (to_jsonb(NEW) - 'status') = (to_jsonb(OLD) - 'status') THEN RETURN NEW; END IF; "
    f"RAISE EXCEPTION '{MESSAGE}'; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER import_log_append_only BEFORE UPDATE OR DELETE ON import_log "
    "FOR EACH ROW EXECUTE FUNCTION import_log_append_only()",
    "CREATE TRIGGER import_log_no_truncate BEFORE TRUNCATE ON import_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION import_log_append_only()",
]
DROP = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS import_log_no_update",
        "DROP TRIGGER IF EXISTS import_log_no_delete",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS import_log_no_truncate ON import_log",
        "DROP TRIGGER IF EXISTS import_log_append_only ON import_log",
        "DROP FUNCTION IF EXISTS import_log_append_only()",
    ],
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(dialect, []):
        op.execute(statement)
    backfill(op.get_bind(), ("import_log",))


def downgrade() -> None:
    for statement in DROP.get(op.get_bind().dialect.name, []):
        op.execute(statement)

"""PostgreSQL: a record's ``import_id`` is checked once per statement, not once per row

Every record table's ``import_id`` names the import that wrote the row (``import_log.id``).
Until now a foreign key checked it, which PostgreSQL does row by row (one lookup in
``import_log`` per row through its internal trigger): about 7.4 of 12.1 s of loading the
2.79 million absences of the synthetic district with ``COPY`` (``bench/README.md``). Here, on
PostgreSQL, each record table's foreign key ``fk_<table>_import_id_import_log`` is replaced by
two statement-level triggers, ``<table>_import_id_on_insert`` and
``<table>_import_id_on_update`` (``AFTER INSERT`` / ``AFTER UPDATE ... REFERENCING NEW TABLE
... FOR EACH STATEMENT``), calling ``record_import_id_known()``: after each statement (an
import's ``COPY`` is one) it looks up the distinct ``import_id`` values of the rows the
statement wrote in ``import_log`` and refuses the whole statement, with SQLSTATE 23503
(``foreign_key_violation``, as the foreign key did, so drivers raise the same
``IntegrityError``), when one is not there. The check runs when the foreign key's did (at the
end of the statement), so an orphan row is still refused.

What the foreign key also guarded on the other side, an ``import_log`` row deleted or its
``id`` changed under its records, stays refused by the log's append-only guard (migration
0012: no DELETE, no TRUNCATE, no UPDATE but ``status``). The application's role owns no table
(``store/privileges.py``), so it can no more drop these triggers than it could the foreign key.

SQLite keeps its foreign keys: it has no statement-level triggers, a row trigger doing the same
lookup was measured slower than the foreign key (the foreign key costs about a fifth of the
insert there), and the schema is unchanged on SQLite.

``tables.py`` still declares the reference (``ForeignKey("import_log.id")``), which is what
SQLite has; ``store.migrate.schema_diff`` compares the schema knowing that PostgreSQL checks it
with these triggers.

Downgrade drops the triggers and the function and adds the foreign keys back (PostgreSQL
validates them against the stored rows).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_TABLES = (
    "absence",
    "accommodation_request",
    "calendar_day",
    "case",
    "classroom",
    "community_indicator",
    "contact_event",
    "district",
    "enrolment",
    "household",
    "pathogen",
    "person",
    "population",
    "quarantine_order",
    "school",
    "school_case_report",
    "staff_assignment",
    "substitute_coverage",
    "test",
    "testing_consent",
    "vaccination",
)
"""The record tables of migrations 0001 and 0004 (each with ``import_id``)."""

FUNCTION = (
    "CREATE OR REPLACE FUNCTION record_import_id_known() RETURNS trigger AS $$ "
    "DECLARE orphan bigint; BEGIN "
    "SELECT w.import_id INTO orphan FROM (SELECT DISTINCT import_id FROM written) AS w "
    "WHERE NOT EXISTS (SELECT 1 FROM import_log AS l WHERE l.id = w.import_id) LIMIT 1; "
    "IF FOUND THEN RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', "
    "MESSAGE = format('%s: import_id %s is not in import_log (no such import)', "
    "TG_TABLE_NAME, orphan); END IF; "
    "RETURN NULL; END $$ LANGUAGE plpgsql"
)


def _triggers(table: str) -> list[str]:
    return [
        f'CREATE TRIGGER {table}_import_id_on_{event.lower()} AFTER {event} ON "{table}" '
        "REFERENCING NEW TABLE AS written FOR EACH STATEMENT "
        "EXECUTE FUNCTION record_import_id_known()"
        for event in ("INSERT", "UPDATE")
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table in RECORD_TABLES:
        op.drop_constraint(f"fk_{table}_import_id_import_log", table, type_="foreignkey")
        for statement in _triggers(table):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in RECORD_TABLES:
        for event in ("insert", "update"):
            op.execute(f'DROP TRIGGER IF EXISTS {table}_import_id_on_{event} ON "{table}"')
        op.create_foreign_key(
            f"fk_{table}_import_id_import_log", table, "import_log", ["import_id"], ["id"]
        )
    op.execute("DROP FUNCTION IF EXISTS record_import_id_known()")

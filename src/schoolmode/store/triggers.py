"""Append-only guards for audit tables, shared by the migrations.

A guarded table refuses every UPDATE and DELETE: on SQLite with two ``BEFORE`` triggers
(``<table>_no_update``, ``<table>_no_delete``), on PostgreSQL with one trigger
``<table>_append_only`` calling a function of the same name. Other dialects get no guard.

The migrations call these functions, so the statements are part of their history: an edit here
changes what an old migration creates. Never change a statement; add a new migration (and, if
needed, a new function) for a new guard.
"""

from __future__ import annotations

from collections.abc import Iterable

MESSAGE = "{table} is append-only: records are never changed"


def append_only_ddl(dialect: str, tables: Iterable[str]) -> list[str]:
    """The statements that make each of ``tables`` append-only on ``dialect``."""
    statements: list[str] = []
    for table in tables:
        message = MESSAGE.format(table=table)
        if dialect == "sqlite":
            for action in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                )
        elif dialect == "postgresql":
            statements.append(
                f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$ BEGIN "
                f"RAISE EXCEPTION '{message}'; END $$ LANGUAGE plpgsql"
            )
            statements.append(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
            )
    return statements


def drop_append_only_ddl(dialect: str, tables: Iterable[str]) -> list[str]:
    """The statements that remove the guards of :func:`append_only_ddl` (if they exist)."""
    statements: list[str] = []
    for table in tables:
        if dialect == "sqlite":
            statements.append(f"DROP TRIGGER IF EXISTS {table}_no_update")
            statements.append(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        elif dialect == "postgresql":
            statements.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            statements.append(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    return statements


def create_append_only(tables: Iterable[str]) -> None:
    """Inside a migration: make ``tables`` append-only on the migrated database."""
    from alembic import op

    for statement in append_only_ddl(op.get_bind().dialect.name, tables):
        op.execute(statement)


def drop_append_only(tables: Iterable[str]) -> None:
    """Inside a migration: remove the append-only guards of ``tables``."""
    from alembic import op

    for statement in drop_append_only_ddl(op.get_bind().dialect.name, tables):
        op.execute(statement)


def no_truncate_ddl(dialect: str, tables: Iterable[str]) -> list[str]:
    """PostgreSQL: a statement trigger per table that refuses TRUNCATE (row triggers do not see
    it), calling the table's append-only function. SQLite has no TRUNCATE: its ``DELETE``
    without ``WHERE`` fires the row triggers when a table has any."""
    if dialect != "postgresql":
        return []
    return [
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
        for table in tables
    ]


def drop_no_truncate_ddl(dialect: str, tables: Iterable[str]) -> list[str]:
    if dialect != "postgresql":
        return []
    return [f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}" for table in tables]

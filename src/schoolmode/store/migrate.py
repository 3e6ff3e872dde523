"""Run the store's Alembic migrations (shipped inside the package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, ForeignKeyConstraint, inspect

from schoolmode.store.tables import RECORD_TABLES, metadata

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, ``None`` when never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` in one transaction; returns the new revision."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current_revision(engine)


def declared_only(dialect: str) -> Any:
    """Alembic's ``include_object`` for ``dialect``: on PostgreSQL, leave out of the comparison
    the record tables' declared reference from ``import_id`` to ``import_log.id`` (migration
    0024 checks it there with statement-level triggers instead of a foreign key). Alembic
    matches a foreign key found in the database with the declared one before it filters, so
    this alone would not show one left on PostgreSQL: :func:`schema_diff` looks for those."""

    def include(obj: Any, _name: Any, _type: str, reflected: bool, _compare_to: Any) -> bool:
        if dialect != "postgresql" or reflected or not isinstance(obj, ForeignKeyConstraint):
            return True
        checked_by_trigger = obj.referred_table.name == "import_log" and obj.column_keys == [
            "import_id"
        ]
        return not (obj.table.name in RECORD_TABLES and checked_by_trigger)

    return include


def schema_diff(conn: Connection) -> list[Any]:
    """What the database's tables and indexes lack or have beyond ``tables.py``'s (Alembic's
    ``compare_metadata``; empty when the migrations built exactly the declared schema). On
    PostgreSQL a record table's foreign key from ``import_id`` to ``import_log`` is one too
    many (migration 0024 replaced it): ``("remove_fk", table, constraint name)``."""
    context = MigrationContext.configure(
        conn, opts={"include_object": declared_only(conn.dialect.name)}
    )
    diff: list[Any] = list(compare_metadata(context, metadata))
    if conn.dialect.name == "postgresql":
        inspector = inspect(conn)
        diff += [
            ("remove_fk", name, fk["name"])
            for name in RECORD_TABLES
            for fk in inspector.get_foreign_keys(name)
            if fk["referred_table"] == "import_log" and fk["constrained_columns"] == ["import_id"]
        ]
    return diff

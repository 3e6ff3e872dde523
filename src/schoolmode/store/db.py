"""Engines: SQLite by default (WAL, foreign keys on), PostgreSQL by URL (psycopg 3)."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from schoolmode.store.locks import IMMEDIATE, SQLITE_BUSY_TIMEOUT_MS


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (the caller's settings say which: ``AppSettings.db_url``).
    SQLite connections get foreign keys, WAL and real transactions (``BEGIN IMMEDIATE`` for the
    writers of ``store.locks.writing``)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        memory = engine.url.database in (None, "", ":memory:")
        if not memory:
            _create_owner_only(Path(str(engine.url.database)))

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy (not the sqlite3 module) delimit transactions, so that DDL and
            # every statement of an import are inside one BEGIN ... COMMIT.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # a REPLACE deletes the row it replaces: with recursive triggers that delete fires
            # the append-only guards (without them, INSERT OR REPLACE rewrites an audit row)
            cursor.execute("PRAGMA recursive_triggers=ON")
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # a writer (store.locks.writing) takes the write lock up front: BEGIN IMMEDIATE
            immediate = conn.get_execution_options().get(IMMEDIATE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _create_owner_only(path: Path) -> None:
    """Create a new store file readable and writable by its owner only (SQLite gives its WAL
    and shared-memory files the same mode); an existing file is left as it is."""
    if path.exists() or not path.parent.is_dir():
        return  # a missing folder: SQLite's own error names the path
    with contextlib.suppress(FileExistsError):  # made meanwhile by another process
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def as_utc(value: dt.datetime) -> dt.datetime:
    """A stored timestamp with its zone: SQLite gives a zoned column back without one, and
    the store writes UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def whoami() -> str:
    """The operating-system user, for the ``*_by`` column of an audit row when no name is
    given; ``"unknown"`` when the system cannot tell (e.g. a container's uid with no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"

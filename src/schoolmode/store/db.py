"""Engines: SQLite by default (WAL, foreign keys on), PostgreSQL by URL (psycopg 3)."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from schoolmode.policy.errors import StoreError
from schoolmode.store.locks import IMMEDIATE, SQLITE_BUSY_TIMEOUT_MS

STORE_FIX = (
    "create it with `schoolmode init`, build the main job's store with scripts/run, or name "
    "another store with --db or SCHOOLMODE_DB"
)
"""How to get a store, said by every refusal of a missing or uninitialised one."""

SCHEMA_TABLE = "alembic_version"
"""The table an initialised store has (the revision its schema is at)."""


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


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes (``engine.begin()`` for every writer of the application).

    On SQLite it takes the write lock at its start (``BEGIN IMMEDIATE``, which waits for
    another writer up to the busy timeout). A deferred ``BEGIN`` that reads and then writes
    fails at once with "database is locked" when another connection committed in between: in
    WAL mode SQLite refuses to upgrade a stale read snapshot, whatever the busy timeout. On
    PostgreSQL it is ``engine.begin()``."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(**{IMMEDIATE: True})
        with conn.begin():
            yield conn


def sqlite_file(url: str) -> Path | None:
    """The absolute path of the SQLite file at ``url``; None for another database or an
    in-memory one."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"{url!r} is not a store URL: {exc}") from None
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).resolve()


def shown(url: str) -> str:
    """``url`` without its password, and for a SQLite file with its absolute path."""
    text = make_url(url).render_as_string(hide_password=True)
    path = sqlite_file(url)
    return text if path is None else f"{text} ({path})"


def check_store(url: str, *, initialised: bool = True) -> None:
    """Refuse (``StoreError``, one line saying how to fix it) a SQLite store whose file is
    missing, is not a SQLite database, or (``initialised``) has no tables; reads the file
    without writing to it. Another database is checked by ``check_schema`` once open."""
    path = sqlite_file(url)
    if path is None:
        return
    if not path.is_file():
        raise StoreError(f"no store at {shown(url)}: {STORE_FIX}")
    if path.stat().st_size == 0:
        tables: set[str] = set()
    else:
        try:
            with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{shown(url)} is not a SQLite store ({exc}): {STORE_FIX}") from None
    if initialised and SCHEMA_TABLE not in tables:
        raise StoreError(f"the store {shown(url)} is not initialised (no tables): {STORE_FIX}")


def check_schema(engine: Engine) -> None:
    """Refuse (``StoreError``) a store that cannot be opened or has no tables."""
    url = engine.url.render_as_string(hide_password=False)
    try:
        with engine.connect() as conn:
            ready = inspect(conn).has_table(SCHEMA_TABLE)
    except DBAPIError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise StoreError(f"cannot open the store {shown(url)}: {first}") from None
    if not ready:
        raise StoreError(f"the store {shown(url)} is not initialised (no tables): {STORE_FIX}")


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

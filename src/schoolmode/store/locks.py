"""One writer per dataset: the write transaction of an import, a set of imports or a review,
opened with its locks taken before it reads anything.

- PostgreSQL: ``pg_advisory_xact_lock`` on a 64-bit key per lock name (an import's source),
  the names taken in sorted order (two writers of overlapping sets cannot deadlock), held
  until the transaction commits or rolls back. A second writer of the same name waits; being
  READ COMMITTED, each of its statements after the lock sees what the first committed.
- SQLite: one writer for the whole file. ``BEGIN IMMEDIATE`` takes the write lock when the
  transaction starts (a deferred ``BEGIN`` that reads first and writes later fails with
  "database is locked" as soon as another writer committed in between, whatever the busy
  timeout). The names only say what is waited for (SQLite cannot tell who holds its lock).

Both first try without waiting; if another writer holds the lock, ``on_wait`` is told once
("waiting for another ... of NAME") and the transaction waits up to ``wait`` seconds
(``lock_timeout`` on PostgreSQL, ``busy_timeout`` on SQLite), then :class:`StoreBusy` names
what it waited for. Nothing has been read or written by then.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from schoolmode.policy.errors import BusyError

LOCK_WAIT = 600.0
"""Seconds a writer waits for another one by default (``AppSettings.lock_wait_s``)."""

SQLITE_BUSY_TIMEOUT_MS = 30000
"""The busy timeout of every SQLite connection (``db.make_engine``), restored after a lock."""

IMMEDIATE = "sqlite_begin_immediate"
"""Execution option: the SQLite ``begin`` listener (``db.make_engine``) emits ``BEGIN
IMMEDIATE`` instead of ``BEGIN`` on a connection that has it."""

Waiting = Callable[[str], None]
"""Told once, with a sentence, when a writer has to wait for another."""


class StoreBusy(BusyError):
    """Another writer held the lock for longer than the wait allowed: nothing was written."""


def lock_key(name: str) -> int:
    """The signed 64-bit advisory-lock key of ``name`` (the first 8 bytes of its sha256)."""
    digest = hashlib.sha256(f"schoolmode:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _is_busy(exc: OperationalError) -> bool:
    """A refused lock: SQLite's busy (``database is locked``), PostgreSQL's lock timeout."""
    orig: Any = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)  # extended: the low byte is the primary
        return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY
    return getattr(orig, "sqlstate", None) == "55P03"  # lock_not_available


def _refused(what: str, names: list[str], wait: float) -> StoreBusy:
    return StoreBusy(
        f"another {what} of {', '.join(names)} is still writing after {wait:g} s; nothing "
        f"written. Try again when it is done (SCHOOLMODE_LOCK_WAIT sets the wait)."
    )


def _set_busy_timeout(conn: Connection, ms: int) -> None:
    # on the driver connection: a PRAGMA through SQLAlchemy would open a transaction first
    conn.connection.driver_connection.execute(f"PRAGMA busy_timeout={int(ms)}")  # type: ignore[union-attr]


@contextmanager
def _sqlite_writing(
    engine: Engine, what: str, names: list[str], wait: float, on_wait: Waiting | None
) -> Iterator[Connection]:
    for attempt in (0, 1):
        with engine.connect() as conn:
            conn.execution_options(**{IMMEDIATE: True})
            _set_busy_timeout(conn, 0 if attempt == 0 else int(wait * 1000))
            try:
                transaction = conn.begin()
            except OperationalError as exc:
                if not _is_busy(exc):
                    raise
                if attempt == 1:
                    raise _refused(what, names, wait) from None
                if on_wait is not None:
                    on_wait(f"waiting for another {what} of {', '.join(names)} to finish…")
                continue
            finally:
                _set_busy_timeout(conn, SQLITE_BUSY_TIMEOUT_MS)
            with transaction:
                yield conn
            return


def _pg_lock(
    conn: Connection, what: str, names: list[str], wait: float, on_wait: Waiting | None
) -> None:
    told = False
    deadline = time.monotonic() + wait  # one wait for all of the names
    for name in names:
        key = lock_key(name)
        if conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar():
            continue
        if not told and on_wait is not None:
            on_wait(f"waiting for another {what} of {name} to finish…")
        told = True
        ms = round((deadline - time.monotonic()) * 1000)
        if ms <= 0:  # a lock_timeout of 0 would wait for ever
            raise _refused(what, names, wait)
        before = conn.execute(text("SELECT current_setting('lock_timeout')")).scalar_one()
        conn.execute(text("SELECT set_config('lock_timeout', :v, true)"), {"v": f"{ms}ms"})
        try:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        except OperationalError as exc:
            if _is_busy(exc):
                raise _refused(what, names, wait) from None
            raise
        conn.execute(text("SELECT set_config('lock_timeout', :v, true)"), {"v": before})


@contextmanager
def writing(
    engine: Engine,
    names: Iterable[str],
    what: str = "import",
    *,
    wait: float = LOCK_WAIT,
    on_wait: Waiting | None = None,
) -> Iterator[Connection]:
    """A connection in a write transaction holding the locks of ``names`` (``what``: the
    writers it may wait for, ``import`` or ``review or import``; in the waiting message and
    in :class:`StoreBusy`).
    Committed when the block ends, rolled back when it raises."""
    ordered = sorted(set(names))
    if engine.dialect.name == "sqlite":
        with _sqlite_writing(engine, what, ordered, wait, on_wait) as conn:
            yield conn
        return
    with engine.connect() as conn, conn.begin():
        _pg_lock(conn, what, ordered, wait, on_wait)
        yield conn

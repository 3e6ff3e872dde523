"""Read query results from an SQLite file as Arrow columns (ADBC, the Arrow project's
database driver for SQLite), in one read transaction.

The Python driver hands over one Python object per value (a day's decision reads about two
million of them); the Arrow driver fills columns in C, which polars takes over without a copy.
We pick ADBC over connectorx (not an Arrow project, no transactions) and over DuckDB's SQLite
scanner (an extension downloaded at run time, which a machine without internet cannot do).

The driver types a column from its first batch of rows, so a column that is blank in the
first batch and filled later would fail; every query is read as a single batch. A result the
driver still cannot type (or a file it cannot open) returns None: the caller reads it
through SQLAlchemy instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import adbc_driver_manager
import adbc_driver_sqlite
import polars as pl
from sqlalchemy import Engine

ONE_BATCH = str(1 << 30)
"""Rows per batch: all of them (see the module note on typing)."""


def database_file(engine: Engine) -> Path | None:
    """The SQLite file behind ``engine``; None for an in-memory database or a URI filename
    (read through SQLAlchemy, which knows how to open it)."""
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:") or engine.url.query:
        return None
    return Path(name)


def read_snapshot(path: Path, queries: Mapping[str, str]) -> dict[str, pl.DataFrame] | None:
    """Each query's rows as a frame (raw column types), all read in one transaction, so they
    see one state of the store; None when the driver cannot open the file or type a result."""
    if not path.is_file():
        return None
    try:
        with (
            adbc_driver_sqlite.connect(str(path)) as database,
            adbc_driver_manager.AdbcConnection(database) as connection,
        ):
            connection.set_autocommit(False)  # one read transaction for every query
            try:
                return {name: _read(connection, sql) for name, sql in queries.items()}
            finally:
                connection.rollback()
    except adbc_driver_manager.Error:
        return None
    except pl.exceptions.ComputeError:  # a column of mixed types the driver let through
        return None


def _read(connection: adbc_driver_manager.AdbcConnection, sql: str) -> pl.DataFrame:
    with adbc_driver_manager.AdbcStatement(connection) as statement:
        statement.set_options(**{adbc_driver_sqlite.StatementOptions.BATCH_ROWS.value: ONE_BATCH})
        statement.set_sql_query(sql)
        stream, _ = statement.execute_query()
        return pl.DataFrame(stream)

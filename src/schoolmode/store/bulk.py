"""Bulk writes of an import (issue 12 item 8): a file's rows go to the store set by set, never
row by row through the ORM.

- PostgreSQL: the rows are sent with ``COPY ... FROM STDIN`` as CSV written by polars straight
  into the record table; the keys of the rows they supersede go the same way into a TEMP
  staging table (``ON COMMIT DROP``) and are deleted by one ``DELETE ... USING`` first. All of
  it in the import's transaction, its lock held (``store.locks.writing``): all or nothing, as
  before.
- SQLite: one prepared ``DELETE`` run by ``executemany`` over the keys gone, and multi-row
  ``INSERT ... VALUES (...), (...)`` statements of ``ROWS_PER_INSERT`` rows each over slices
  of the frame on the import's connection, the values converted per column by polars first
  (dates as ISO text and booleans as 0/1, as SQLAlchemy's SQLite types store them) and handed
  over as one flat list per slice (half the CPU of ``executemany`` of one row per
  statement). Into an empty table, the table's secondary indexes (``ix_<table>_import_id``)
  are dropped first and created again after the load, in the same transaction (one sort
  instead of a B-tree insert per row; a rollback or a killed process leaves them as they
  were).
- Any other database: refused (the store is tested on these two).

A key owned by another dataset raises SQLAlchemy's ``IntegrityError`` on both (the driver's
error of a ``COPY`` or a multi-row ``INSERT`` is wrapped in SQLAlchemy's),
and so does a row whose ``import_id`` is not in ``import_log`` (SQLite: the foreign key, row by
row; PostgreSQL: migration 0024's triggers, once at the end of the ``COPY``).
What is stored is value for value what SQLAlchemy's ``insert`` stores
(``tests/store/test_write_path.py``).
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Any

import polars as pl
from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Table,
    cast,
    select,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

SLICE = 50_000
"""Rows per slice of values handed to SQLite and per progress report."""

Progress = Callable[[int, int], None]
"""Told ``(rows written, rows to write)`` after each slice."""


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _sqlite_values(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame``'s columns as SQLAlchemy's SQLite types bind them: dates as ``YYYY-MM-DD``
    text, booleans as 0/1."""
    converted = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:
            converted.append(pl.col(name).dt.to_string("%Y-%m-%d"))
        elif dtype == pl.Boolean:
            converted.append(pl.col(name).cast(pl.Int64))
        else:
            converted.append(pl.col(name))
    return frame.select(converted)


def _csv(frame: pl.DataFrame) -> bytes:
    """``frame`` as CSV for PostgreSQL's ``COPY (FORMAT csv)``: text, dates and booleans
    quoted (an empty text is ``""``), a null an unquoted empty cell (``NULL``)."""
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, quote_style="non_numeric", null_value="")
    return buffer.getvalue()


def _copy(conn: Connection, name: str, frame: pl.DataFrame) -> None:
    """``frame``'s rows into table ``name`` (its columns) by ``COPY ... FROM STDIN``; a
    constraint the rows break raises SQLAlchemy's ``IntegrityError``, as an ``INSERT`` would."""
    statement = f'COPY "{name}" ({_names(frame.columns)}) FROM STDIN (FORMAT csv)'
    raw: Any = conn.connection.driver_connection  # psycopg's: COPY is not in the DB-API
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(_csv(frame))
    except conn.dialect.loaded_dbapi.IntegrityError as exc:
        raise IntegrityError(statement, None, exc) from exc


def _pg_write(
    conn: Connection, table: Table, key: Sequence[str], gone: pl.DataFrame, rows: pl.DataFrame
) -> None:
    conn.exec_driver_sql("SET LOCAL client_encoding TO 'UTF8'")
    if gone.height:
        conn.exec_driver_sql(
            "CREATE TEMP TABLE schoolmode_gone ON COMMIT DROP AS "
            f'SELECT {_names(gone.columns)} FROM "{table.name}" WITH NO DATA'
        )
        _copy(conn, "schoolmode_gone", gone)
        match = " AND ".join(f't."{k}" = g."{k}"' for k in key)
        conn.exec_driver_sql(
            f'DELETE FROM "{table.name}" AS t USING schoolmode_gone AS g WHERE {match}'
        )
        conn.exec_driver_sql("DROP TABLE schoolmode_gone")
    if rows.height:
        _copy(conn, table.name, rows)


def _late_indexes(conn: Connection, table: Table) -> list[tuple[str, str]]:
    """``(name, CREATE INDEX statement)`` of ``table``'s secondary indexes as the store holds
    them when the table has no row (none otherwise): to drop before a load and create after."""
    if conn.exec_driver_sql(f'SELECT 1 FROM "{table.name}" LIMIT 1').first() is not None:
        return []
    found = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL ORDER BY name",  # an autoindex (the primary key's) has no sql
        (table.name,),
    ).all()
    return [(str(name), str(sql)) for name, sql in found]


ROWS_PER_INSERT = 200
"""Rows per SQLite ``INSERT ... VALUES (...), (...)`` statement (fewer when the library allows
fewer bound values per statement)."""


def _sqlite_insert(
    conn: Connection, name: str, values: pl.DataFrame, progress: Progress | None
) -> None:
    """``values``' rows into table ``name`` by multi-row ``INSERT`` statements on the
    connection's own driver connection (its transaction): one statement binds
    ``ROWS_PER_INSERT`` rows' values, handed over as one flat list built column by column.
    Half the CPU of ``executemany`` of one row per statement (one SQLite step and reset per
    statement, not per row). A refused row raises SQLAlchemy's error for the driver's
    (``IntegrityError`` for a constraint), as ``exec_driver_sql`` would."""
    raw: Any = conn.connection.dbapi_connection  # sqlite3's: one statement of many rows
    width = len(values.columns)
    limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width
    per = max(1, min(ROWS_PER_INSERT, limit))
    head = f'INSERT INTO "{name}" ({_names(values.columns)}) VALUES '
    one = "(" + ", ".join("?" for _ in values.columns) + ")"
    full = head + ", ".join([one] * per)
    step = per * width
    cursor = raw.cursor()
    done = 0
    statement = full
    try:
        for piece in values.iter_slices(SLICE):
            columns = [piece.get_column(c).to_list() for c in piece.columns]
            flat = list(chain.from_iterable(zip(*columns, strict=True)))
            whole = len(flat) - len(flat) % step
            statement = full
            for at in range(0, whole, step):
                cursor.execute(full, flat[at : at + step])
            if whole < len(flat):
                statement = head + ", ".join([one] * ((len(flat) - whole) // width))
                cursor.execute(statement, flat[whole:])
            done += piece.height
            if progress is not None:
                progress(done, values.height)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc
    finally:
        cursor.close()


def _sqlite_write(
    conn: Connection,
    table: Table,
    key: Sequence[str],
    gone: pl.DataFrame,
    rows: pl.DataFrame,
    progress: Progress | None,
) -> None:
    if gone.height:
        match = " AND ".join(f'"{k}" = ?' for k in key)
        statement = f'DELETE FROM "{table.name}" WHERE {match}'
        for piece in _sqlite_values(gone.select(key)).iter_slices(SLICE):
            conn.exec_driver_sql(statement, piece.rows())
    if not rows.height:
        return
    late = _late_indexes(conn, table)
    for name, _sql in late:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    _sqlite_insert(conn, table.name, _sqlite_values(rows), progress)
    for _name, sql in late:
        conn.exec_driver_sql(sql)


def replace_rows(
    conn: Connection,
    table: Table,
    key: Sequence[str],
    gone: pl.DataFrame,
    rows: pl.DataFrame,
    progress: Progress | None = None,
) -> None:
    """Delete the rows of ``table`` whose ``key`` is in ``gone`` (a frame of the key columns),
    then insert ``rows`` (a frame of ``table``'s columns, ``import_id`` included), inside the
    caller's transaction."""
    if conn.dialect.name == "postgresql":
        _pg_write(conn, table, key, gone, rows)
        if progress is not None:
            progress(rows.height, rows.height)
    elif conn.dialect.name == "sqlite":
        _sqlite_write(conn, table, key, gone, rows, progress)
    else:  # the store is tested on these two only
        raise ValueError(f"the store supports SQLite and PostgreSQL, not {conn.dialect.name}")


def insert_rows(conn: Connection, name: str, rows: pl.DataFrame) -> None:
    """``rows`` (a frame of some of table ``name``'s columns) appended to that table by the
    import's bulk path (``COPY`` on PostgreSQL, multi-row ``INSERT`` on SQLite), inside the
    caller's transaction, nothing deleted and no index dropped: what ``bench/bench_import.py``
    times on bare tables as the floor of a write."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL client_encoding TO 'UTF8'")
        _copy(conn, name, rows)
    elif conn.dialect.name == "sqlite":
        _sqlite_insert(conn, name, _sqlite_values(rows), None)
    else:  # the store is tested on these two only
        raise ValueError(f"the store supports SQLite and PostgreSQL, not {conn.dialect.name}")


def _pg_column(table: Table, name: str, dtype: pl.DataType) -> Any:
    """The column as COPY should write it: booleans as 0/1 (their text is ``t``/``f``)."""
    column = table.c[name]
    return cast(column, Integer).label(name) if dtype == pl.Boolean else column


def pg_frame(
    conn: Connection, table: Table, schema: Mapping[str, pl.DataType], where: ColumnElement[bool]
) -> pl.DataFrame:
    """The rows of ``table`` where ``where`` holds, ``schema``'s columns, read from PostgreSQL
    with ``COPY (SELECT ...) TO STDOUT`` as CSV and parsed by polars (each value converted by
    column, not in Python)."""
    query = select(*(_pg_column(table, n, t) for n, t in schema.items())).where(where)
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    conn.exec_driver_sql("SET LOCAL DateStyle TO 'ISO'")
    conn.exec_driver_sql("SET LOCAL client_encoding TO 'UTF8'")
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        data = b"".join(bytes(block) for block in copy)
    text = pl.read_csv(
        data, has_header=False, schema=dict.fromkeys(schema, pl.String), raise_if_empty=False
    )
    converted = []
    for name, dtype in schema.items():
        column = pl.col(name)
        if dtype == pl.Date:
            converted.append(column.str.to_date("%Y-%m-%d"))
        elif dtype == pl.Boolean:
            converted.append(column.cast(pl.Int64).cast(pl.Boolean))
        else:
            converted.append(column.cast(dtype))
    return text.select(converted)

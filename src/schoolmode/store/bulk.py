"""Bulk writes of an import (issue 12 item 8): a file's rows go to the store set by set, never
row by row through the ORM.

- PostgreSQL: the rows (and the keys of the rows they supersede) are sent with ``COPY ... FROM
  STDIN`` as CSV written by polars into a TEMP staging table (``ON COMMIT DROP``), then merged
  by one ``DELETE ... USING`` and one ``INSERT ... SELECT`` in the import's transaction, its
  lock held (``store.locks.writing``): all or nothing, as before.
- SQLite: one prepared ``DELETE`` and one prepared ``INSERT`` run by ``executemany`` over
  slices of the frame's rows on the import's connection, the values converted per column by
  polars first (dates as ISO text and booleans as 0/1, as SQLAlchemy's SQLite types store
  them).
- Any other database: SQLAlchemy ``delete`` and ``insert`` (the generic path).

The statements run through ``Connection.exec_driver_sql``, so a key owned by another dataset
raises SQLAlchemy's ``IntegrityError`` as the ORM path did. What is stored is value for value
what SQLAlchemy's ``insert`` stores (``tests/store/test_write_path.py``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
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

SLICE = 50_000
"""Rows per ``executemany`` on SQLite and per progress report."""

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


def _stage(conn: Connection, table: Table, name: str, frame: pl.DataFrame) -> None:
    """A TEMP table ``name`` with ``frame``'s columns typed as ``table``'s, filled by COPY."""
    columns = _names(frame.columns)
    conn.exec_driver_sql(
        f'CREATE TEMP TABLE "{name}" ON COMMIT DROP AS '
        f'SELECT {columns} FROM "{table.name}" WITH NO DATA'
    )
    raw: Any = conn.connection.driver_connection  # psycopg's: COPY is not in the DB-API
    with (
        raw.cursor() as cursor,
        cursor.copy(f'COPY "{name}" ({columns}) FROM STDIN (FORMAT csv)') as copy,
    ):
        copy.write(_csv(frame))


def _pg_write(
    conn: Connection, table: Table, key: Sequence[str], gone: pl.DataFrame, rows: pl.DataFrame
) -> None:
    conn.exec_driver_sql("SET LOCAL client_encoding TO 'UTF8'")
    if gone.height:
        _stage(conn, table, "schoolmode_gone", gone)
        match = " AND ".join(f't."{k}" = g."{k}"' for k in key)
        conn.exec_driver_sql(
            f'DELETE FROM "{table.name}" AS t USING schoolmode_gone AS g WHERE {match}'
        )
        conn.exec_driver_sql("DROP TABLE schoolmode_gone")
    if rows.height:
        _stage(conn, table, "schoolmode_rows", rows)
        columns = _names(rows.columns)
        conn.exec_driver_sql(
            f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM schoolmode_rows'
        )
        conn.exec_driver_sql("DROP TABLE schoolmode_rows")


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
    marks = ", ".join("?" for _ in rows.columns)
    statement = f'INSERT INTO "{table.name}" ({_names(rows.columns)}) VALUES ({marks})'
    done = 0
    for piece in _sqlite_values(rows).iter_slices(SLICE):
        conn.exec_driver_sql(statement, piece.rows())
        done += piece.height
        if progress is not None:
            progress(done, rows.height)


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

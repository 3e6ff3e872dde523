"""Store rows as typed polars frames: the one place a query result becomes a frame."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Date,
    Engine,
    Integer,
    Select,
    String,
    Table,
    select,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import CompileError

from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES
from schoolmode.store import arrow
from schoolmode.store.tables import RECORD_TABLES

Schema = Mapping[str, pl.DataType | type[pl.DataType]]


def rows_frame(rows: Sequence[Sequence[Any]], schema: Schema) -> pl.DataFrame:
    """Result rows (in ``schema``'s column order) as a frame of ``schema``'s types."""
    return pl.DataFrame([tuple(r) for r in rows], schema=dict(schema), orient="row")


def query_frame(conn: Connection, query: Select[Any], schema: Schema) -> pl.DataFrame:
    """Run ``query`` (selecting ``schema``'s columns in order) and return its rows as a frame."""
    return rows_frame(conn.execute(query).all(), schema)


def _sqlite_query(
    dialect: Dialect, table: Table, schema: Schema, where: ColumnElement[bool] | None
) -> tuple[str, list[pl.Expr]] | None:
    """The SQL text reading ``schema``'s columns of ``table`` from SQLite without a per-value
    conversion in Python (dates as ISO text, booleans as 0/1), and the polars expressions that
    convert its raw columns (named as ``schema``) once per column. None when a column's type
    would need a per-value conversion or a value cannot be spelled literally."""
    columns: list[ColumnElement[Any]] = []
    after: list[pl.Expr] = []
    for name, dtype in schema.items():
        column = table.c[name]
        if isinstance(column.type, Date) and dtype == pl.Date:
            columns.append(type_coerce(column, String))
            after.append(pl.col(name).cast(pl.String).str.to_date("%Y-%m-%d"))
        elif isinstance(column.type, Boolean) and dtype == pl.Boolean:
            columns.append(type_coerce(column, Integer))
            after.append(pl.col(name).cast(pl.Int64).cast(pl.Boolean))
        elif column.type.result_processor(dialect, None) is None:
            columns.append(column)
            after.append(pl.col(name).cast(dtype))
        else:
            return None
    query = select(*columns)
    if where is not None:
        query = query.where(where)
    try:
        sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except CompileError:  # a value SQLite cannot spell literally
        return None
    return sql, after


def _raw_schema(schema: Schema) -> dict[str, pl.DataType | type[pl.DataType]]:
    return {
        n: pl.String if t == pl.Date else pl.Int64 if t == pl.Boolean else t
        for n, t in schema.items()
    }


def _sqlite_frame(
    conn: Connection, table: Table, schema: Schema, where: ColumnElement[bool] | None
) -> pl.DataFrame | None:
    """The rows as :func:`table_frame` returns them, read from SQLite without converting each
    value in Python: the driver's rows go straight into columns, converted by polars once per
    column. None when :func:`_sqlite_query` cannot say it (the caller then reads row by row)."""
    query = _sqlite_query(conn.dialect, table, schema, where)
    if query is None:
        return None
    sql, after = query
    rows = conn.connection.driver_connection.execute(sql).fetchall()  # type: ignore[union-attr]
    values = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    raw = _raw_schema(schema)
    return pl.DataFrame(
        [pl.Series(n, v, dtype=raw[n]) for n, v in zip(schema, values, strict=True)]
    ).select(after)


def table_frame(
    bind: Engine | Connection,
    table: Table,
    schema: Schema,
    where: ColumnElement[bool] | None = None,
) -> pl.DataFrame:
    """The rows of ``table`` (optionally only those ``where`` holds), its columns named by
    ``schema``, as a frame of ``schema``'s types."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return table_frame(conn, table, schema, where)
    if bind.dialect.name == "sqlite":
        fast = _sqlite_frame(bind, table, schema, where)
        if fast is not None:
            return fast
    query = select(*(table.c[c] for c in schema))
    if where is not None:
        query = query.where(where)
    return query_frame(bind, query, schema)


def record_frame(
    bind: Engine | Connection, name: str, where: ColumnElement[bool] | None = None
) -> pl.DataFrame:
    """The stored records of type ``name`` (optionally only those ``where`` holds) as a frame of
    the standard's schema."""
    return table_frame(bind, RECORD_TABLES[name], frame_schema(RECORD_TYPES[name]), where)


def record_frames(
    engine: Engine, wheres: Mapping[str, ColumnElement[bool] | None]
) -> dict[str, pl.DataFrame]:
    """The stored records of several types (each only where its clause holds, None: all) as
    frames of the standard's schema, read in one snapshot of the store.

    From an SQLite file the rows come through the Arrow database driver (ADBC,
    ``store/arrow.py``) straight into columns, about three times faster than the Python
    driver's rows; from PostgreSQL (or when the Arrow driver cannot say a query) through the
    engine's connection, in one transaction."""
    if engine.dialect.name == "sqlite":
        path = arrow.database_file(engine)
        queries: dict[str, tuple[str, list[pl.Expr]]] = {}
        for name, where in wheres.items():
            schema = frame_schema(RECORD_TYPES[name])
            query = _sqlite_query(engine.dialect, RECORD_TABLES[name], schema, where)
            if query is None:
                break
            queries[name] = query
        else:
            if path is not None:
                read = arrow.read_snapshot(path, {n: sql for n, (sql, _) in queries.items()})
                if read is not None:
                    return {
                        name: _typed(read[name], frame_schema(RECORD_TYPES[name]), after)
                        for name, (_, after) in queries.items()
                    }
    with engine.connect() as conn:
        return {name: record_frame(conn, name, where) for name, where in wheres.items()}


def _typed(raw: pl.DataFrame, schema: Schema, after: list[pl.Expr]) -> pl.DataFrame:
    """An Arrow result (its columns in ``schema``'s order) converted to ``schema``'s types."""
    if raw.height == 0:
        return pl.DataFrame(schema=dict(schema))
    return raw.rename(dict(zip(raw.columns, schema, strict=True))).select(after)


def load_frames(engine: Engine, names: Sequence[str]) -> dict[str, pl.DataFrame]:
    """Whole store tables as standard-typed frames (fine for one district; a large store would
    filter by school first)."""
    with engine.connect() as conn:
        return {name: record_frame(conn, name) for name in names}

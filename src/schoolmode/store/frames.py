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
from sqlalchemy.exc import CompileError

from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES
from schoolmode.store.tables import RECORD_TABLES

Schema = Mapping[str, pl.DataType | type[pl.DataType]]


def rows_frame(rows: Sequence[Sequence[Any]], schema: Schema) -> pl.DataFrame:
    """Result rows (in ``schema``'s column order) as a frame of ``schema``'s types."""
    return pl.DataFrame([tuple(r) for r in rows], schema=dict(schema), orient="row")


def query_frame(conn: Connection, query: Select[Any], schema: Schema) -> pl.DataFrame:
    """Run ``query`` (selecting ``schema``'s columns in order) and return its rows as a frame."""
    return rows_frame(conn.execute(query).all(), schema)


def _sqlite_frame(
    conn: Connection, table: Table, schema: Schema, where: ColumnElement[bool] | None
) -> pl.DataFrame | None:
    """The rows as :func:`table_frame` returns them, read from SQLite without converting each
    value in Python: the driver's rows go straight into columns, dates come as ISO text and
    booleans as 0/1, converted by polars once per column. None when a column's type
    would need a per-value conversion this does not do (the caller then reads row by row)."""
    columns: list[ColumnElement[Any]] = []
    after: list[pl.Expr] = []
    for name, dtype in schema.items():
        column = table.c[name]
        if isinstance(column.type, Date) and dtype == pl.Date:
            columns.append(type_coerce(column, String))
            after.append(pl.col(name).str.to_date("%Y-%m-%d"))
        elif isinstance(column.type, Boolean) and dtype == pl.Boolean:
            columns.append(type_coerce(column, Integer))
            after.append(pl.col(name).cast(pl.Boolean))
        elif column.type.result_processor(conn.dialect, None) is None:
            columns.append(column)
            after.append(pl.col(name).cast(dtype))
        else:
            return None
    query = select(*columns)
    if where is not None:
        query = query.where(where)
    try:
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    except CompileError:  # a value SQLite cannot spell literally: read row by row
        return None
    rows = conn.connection.driver_connection.execute(sql).fetchall()  # type: ignore[union-attr]
    values = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    raw = {
        n: pl.String if t == pl.Date else pl.Int64 if t == pl.Boolean else t
        for n, t in schema.items()
    }
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


def load_frames(engine: Engine, names: Sequence[str]) -> dict[str, pl.DataFrame]:
    """Whole store tables as standard-typed frames (fine for one district; a large store would
    filter by school first)."""
    with engine.connect() as conn:
        return {name: record_frame(conn, name) for name in names}

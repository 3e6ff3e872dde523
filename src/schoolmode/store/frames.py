"""Store rows as typed polars frames: the one place a query result becomes a frame."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    func,
    literal_column,
    select,
    text,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import CompileError

from schoolmode.standard.batch import frame_schema
from schoolmode.standard.models import RECORD_TYPES
from schoolmode.store import packed
from schoolmode.store.tables import RECORD_TABLES, import_log

Schema = Mapping[str, pl.DataType | type[pl.DataType]]


def rows_frame(rows: Sequence[Sequence[Any]], schema: Schema) -> pl.DataFrame:
    """Result rows (in ``schema``'s column order) as a frame of ``schema``'s types."""
    return pl.DataFrame([tuple(r) for r in rows], schema=dict(schema), orient="row")


def query_frame(conn: Connection, query: Select[Any], schema: Schema) -> pl.DataFrame:
    """Run ``query`` (selecting ``schema``'s columns in order) and return its rows as a frame."""
    return rows_frame(conn.execute(query).all(), schema)


def _sqlite_columns(
    dialect: Dialect, table: Table, schema: Schema
) -> tuple[list[ColumnElement[Any]], list[pl.Expr]] | None:
    """The columns selecting ``schema``'s columns of ``table`` from SQLite without a per-value
    conversion in Python (dates as ISO text, booleans as 0/1), and the polars expressions that
    convert them (named as ``schema``, typed as :func:`_raw_schema` says) once per column.
    None when a column's type would need a per-value conversion."""
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
    return columns, after


def _sql(dialect: Dialect, query: Select[Any]) -> str | None:
    """``query`` as SQL text with its values inline; None when a value cannot be spelled."""
    try:
        return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except CompileError:
        return None


def _sqlite_query(
    dialect: Dialect, table: Table, schema: Schema, where: ColumnElement[bool] | None
) -> tuple[str, list[pl.Expr]] | None:
    """The SQL text reading ``schema``'s columns of ``table`` (:func:`_sqlite_columns`) and the
    expressions converting them; None when :func:`_sqlite_columns` or the text cannot say it."""
    selected = _sqlite_columns(dialect, table, schema)
    if selected is None:
        return None
    query = select(*selected[0])
    sql = _sql(dialect, query if where is None else query.where(where))
    return None if sql is None else (sql, selected[1])


def _packed_query(
    dialect: Dialect,
    table: Table,
    schema: Schema,
    where: ColumnElement[bool] | None,
    rows: int,
) -> tuple[packed.Packed, list[pl.Expr]] | None:
    """The query reading ``schema``'s columns of ``table`` (whose largest row id is ``rows``)
    packed by SQLite, one JSON array per column (``store/packed.py``), and the expressions
    converting them; None when a column is not text, an integer, a date or a boolean, or the
    text cannot be said."""
    selected = _sqlite_columns(dialect, table, schema)
    raw = _raw_schema(schema)
    if selected is None or any(t not in packed.PACKED for t in raw.values()):
        return None
    query = select(*(func.json_group_array(c) for c in selected[0])).select_from(table)
    chunk = text("rowid > ? AND rowid <= ?")
    sql = _sql(dialect, query.where(chunk) if where is None else query.where(where, chunk))
    if sql is None:
        return None
    types = tuple(pl.String if raw[n] == pl.String else pl.Int64 for n in schema)
    return packed.Packed(sql, tuple(schema), types, 0, rows), selected[1]


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
    engine: Engine,
    wheres: Mapping[str, ColumnElement[bool] | None],
    columns: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, pl.DataFrame]:
    """The stored records of several types (each only where its clause holds, None: all) as
    frames of the standard's schema (only the ``columns`` named for a type, when given), read
    in one state of the store.

    From SQLite each column comes packed by SQLite into one JSON array (``store/packed.py``),
    in two groups read at once (from a file) whose transactions see the same imports; from
    PostgreSQL (or when a query cannot be packed) through one connection, in one transaction."""
    schemas = {name: _columns(name, (columns or {}).get(name)) for name in wheres}
    if engine.dialect.name == "sqlite":
        rows = _row_ids(engine, wheres)
        said = {
            name: _packed_query(
                engine.dialect, RECORD_TABLES[name], schemas[name], where, rows[name]
            )
            for name, where in wheres.items()
        }
        queries = {name: q for name, q in said.items() if q is not None}
        if len(queries) == len(said):
            groups = packed.balanced({n: q for n, (q, _) in queries.items()}, _groups(engine))
            read = packed.read_agreeing(engine, groups, VERSION)
            if read is not None:
                frames = packed.joined(read)
                return {name: frames[name].select(after) for name, (_, after) in queries.items()}
    with engine.connect() as conn:
        return {
            name: table_frame(conn, RECORD_TABLES[name], schemas[name], where)
            for name, where in wheres.items()
        }


def _columns(name: str, wanted: Sequence[str] | None) -> Schema:
    """The standard's schema of record type ``name``, only the ``wanted`` columns (in the
    standard's order) when given."""
    schema = frame_schema(RECORD_TYPES[name])
    if wanted is None:
        return schema
    unknown = set(wanted) - set(schema)
    if unknown:
        raise KeyError(f"record type {name} has no column {', '.join(sorted(unknown))}")
    return {column: dtype for column, dtype in schema.items() if column in wanted}


VERSION = f"SELECT coalesce(max(id), 0) FROM {import_log.name}"
"""The store's version for reads that must agree: the latest import's id (only an import writes
records, in the transaction that logs it; the log is append-only)."""


def _row_ids(engine: Engine, names: Iterable[str]) -> dict[str, int]:
    """Each record table's largest row id (a lookup in its B-tree; 0 when empty)."""
    with engine.connect() as conn:
        return {
            name: conn.execute(
                select(func.max(literal_column("rowid"))).select_from(RECORD_TABLES[name])
            ).scalar()
            or 0
            for name in names
        }


def _groups(engine: Engine) -> int:
    """Connections reading at once: two for a file (SQLite works off the GIL), one for an
    in-memory database (each connection of which is its own database)."""
    if engine.url.database in (None, "", ":memory:") or "memory" in str(engine.url.query):
        return 1
    return 2


def load_frames(engine: Engine, names: Sequence[str]) -> dict[str, pl.DataFrame]:
    """Whole store tables as standard-typed frames (fine for one district; a large store would
    filter by school first)."""
    with engine.connect() as conn:
        return {name: record_frame(conn, name) for name in names}

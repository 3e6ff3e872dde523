"""Store rows as typed polars frames: the one place a query result becomes a frame."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, Connection, Engine, Select, Table, select

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


def table_frame(
    bind: Engine | Connection,
    table: Table,
    schema: Schema,
    where: ColumnElement[bool] | None = None,
) -> pl.DataFrame:
    """The rows of ``table`` (optionally only those ``where`` holds), its columns named by
    ``schema``, as a frame of ``schema``'s types."""
    query = select(*(table.c[c] for c in schema))
    if where is not None:
        query = query.where(where)
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return query_frame(conn, query, schema)
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

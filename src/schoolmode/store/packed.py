"""Read SQLite query results as columns: each column one JSON array built by SQLite.

The Python driver hands over one Python object per value (a day's decision reads about two
million of them). Here SQLite itself packs each selected column into one JSON array
(``json_group_array``, built into SQLite since 3.38), so the driver hands over one text per
column, which polars decodes in Rust: about 0.35 s instead of 0.55 s for the 321,254
enrolments of the synthetic district, with the same SQLite library as every other connection
of the process. (A driver bundling its own copy of SQLite, such as ADBC's, must not open a
file this process also opens: POSIX locks are per process, so one copy closing the file
releases the other's locks, and it truncates the shared-memory index the other has mapped.
SQLite's documentation lists this under "How To Corrupt An SQLite Database File"; we saw the
bus error.)

Several results are read at once by :func:`read_agreeing`: one connection per group of
queries, each in its own thread (SQLite works with the GIL released) and its own read
transaction. The transactions see one state of the store when a *version* query gives the
same answer in each (its first statement fixes the transaction's snapshot): the caller's
version must change with every commit that changes the rows read (the store's: the latest
import's id, as only an import writes records, in one transaction with its log row). When a
commit falls between them, the groups are read again, and after that in one transaction.

Only text, integer and 0/1 columns are read this way (a JSON number would not carry a float
exactly); a query with any other column, a value SQLite cannot pack, or a JSON array polars
cannot type as asked returns None, and the caller reads the rows instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import polars as pl
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

PACKED = (pl.String, pl.Int64)
"""The types a column may be decoded as (dates are read as ISO text, booleans as 0/1)."""


CHUNK_ROWS = 100_000
"""Row ids read per statement: each column's JSON text stays a few MB, whatever the table's
size (SQLite's strings stop at 1 GB)."""


@dataclass(frozen=True)
class Packed:
    """A query whose selected columns (``names``, decoded as ``types``) are packed by SQLite:
    ``sql`` selects one ``json_group_array`` per column, in that order, of the rows whose row id
    is in a range given as two parameters (``?``: above the first, up to the second); the
    query reads the row ids above ``low`` up to ``high``."""

    sql: str
    names: tuple[str, ...]
    types: tuple[type[pl.DataType], ...]
    low: int
    high: int

    def frame(self, packed: Sequence[object]) -> pl.DataFrame:
        """One packed row's columns as a frame (raises ``pl.exceptions.PolarsError`` when a
        column cannot be decoded as its type)."""
        columns = []
        for name, dtype, text in zip(self.names, self.types, packed, strict=True):
            lists = pl.Series(name, [text], dtype=pl.String).str.json_decode(pl.List(dtype))
            columns.append(lists.explode().head(lists.list.len().item()).rename(name))
        return pl.DataFrame(columns)

    def read(self, conn: Connection) -> pl.DataFrame:
        """The rows, ``CHUNK_ROWS`` row ids at a time, in ``conn``'s transaction."""
        parts = [
            self.frame(tuple(conn.exec_driver_sql(self.sql, (low, hi)).one()))
            for low in range(self.low, max(self.high, self.low + 1), CHUNK_ROWS)
            for hi in [min(low + CHUNK_ROWS, self.high)]
        ]
        return pl.concat(parts, how="vertical")

    def split(self, rows: int) -> tuple[Packed, Packed]:
        """The first ``rows`` row ids of the range, and the rest."""
        at = min(self.low + rows, self.high)
        return replace(self, high=at), replace(self, low=at)


Key = tuple[str, int]
"""A piece of a read: the name of its query and the piece's place among the query's pieces."""


def balanced(queries: Mapping[str, Packed], groups: int) -> list[dict[Key, Packed]]:
    """``queries`` in ``groups`` groups of about as many row ids each (a query larger than its
    group's share is split by row ids: :meth:`Packed.split`)."""
    total = sum(q.high - q.low for q in queries.values())
    share = -(-total // max(groups, 1))
    out: list[dict[Key, Packed]] = [{}]
    room = share
    for name in sorted(queries, key=lambda n: queries[n].low - queries[n].high):
        query, piece = queries[name], 0
        while query.high - query.low > room and len(out) < groups:
            if room > 0:
                head, query = query.split(room)
                out[-1][name, piece] = head
                piece += 1
            out.append({})
            room = share
        out[-1][name, piece] = query
        room -= query.high - query.low
    return [group for group in out if group]


def joined(read: Mapping[Key, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Each query's pieces, in order, as one frame."""
    out: dict[str, list[pl.DataFrame]] = {}
    for (name, _), frame in sorted(read.items(), key=lambda item: item[0]):
        out.setdefault(name, []).append(frame)
    return {name: pl.concat(frames, how="vertical") for name, frames in out.items()}


def read_agreeing(
    engine: Engine,
    groups: Sequence[Mapping[Key, Packed]],
    version: str,
    tries: int = 2,
) -> dict[Key, pl.DataFrame] | None:
    """Each group's queries read by its own connection, all groups at once, in read
    transactions that each begin with ``version`` (see the module note); the frames of all
    queries when the versions agree. After ``tries`` disagreements: every query in one
    transaction. None when a query cannot be packed or decoded (read the rows instead)."""
    if len(groups) > 1:
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            for _ in range(tries):
                reads = list(pool.map(lambda group: _versioned(engine, group, version), groups))
                done = [r for r in reads if r is not None]
                if len(done) < len(reads):
                    return None
                if len({stamp for stamp, _ in done}) == 1:
                    return {name: frame for _, frames in done for name, frame in frames.items()}
    every = {name: query for group in groups for name, query in group.items()}
    read = _versioned(engine, every, version)
    return None if read is None else read[1]


def _versioned(
    engine: Engine, queries: Mapping[Key, Packed], version: str
) -> tuple[tuple[object, ...], dict[Key, pl.DataFrame]] | None:
    """``version``'s answer and each query's frame, read in one transaction."""
    with engine.connect() as conn:
        stamp = tuple(conn.exec_driver_sql(version).one())
        frames = {}
        for name, query in queries.items():
            frame = _read(conn, query)
            if frame is None:
                return None
            frames[name] = frame
        conn.rollback()
    return stamp, frames


def _read(conn: Connection, query: Packed) -> pl.DataFrame | None:
    try:
        return query.read(conn)
    except DBAPIError:  # e.g. an SQLite without json_group_array
        return None
    except pl.exceptions.PolarsError:  # a value of another type than the column's
        return None

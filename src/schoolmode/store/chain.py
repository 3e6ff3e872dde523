"""The hash chain over the audit records: tamper-evident history.

Each audit record (a decision run, an authorisation, an access-log event, an import-log entry,
an accommodation lottery's seed commitment, a public release, a refusal) gets one link in ``chain_link``, written in the record's own transaction: the digest of the record's content
(``content_sha256``), the previous link's digest (``prev_sha256``; ``GENESIS`` for the first)
and its own, ``sha256(prev | table | id | content)``. A unique ``prev_sha256`` keeps the chain
a line (two writers cannot both extend the same head); PostgreSQL writers also take an
advisory lock. Whoever keeps a published head can later check that the history they saw is
still the prefix of the store's (``schoolmode audit verify --head SHA``).

What a record's content is, is fixed here (``SCHEME``) and in ``decisions/verify.py``; a change
to it is a new scheme, never an edit.

An import-log entry is the one chained record with a column that legitimately changes: its
``status`` goes from ``current`` to ``superseded`` when a later import of its dataset names it in
``supersedes_id`` (the only update its guard allows, migration 0012). Its content therefore
leaves ``status`` out while the entry is current or named by a successor (that successor's own
link fixes the supersession), and covers it otherwise: an entry marked superseded with no
successor (as migration 0010 marked the current entries of a dataset two imports had mixed)
was linked so, and an entry flipped to superseded later, by SQL, no longer matches its link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, func, insert, select, text

from schoolmode.store.db import as_utc
from schoolmode.store.tables import (
    access_log,
    authorisation,
    chain_link,
    decision,
    decision_run,
    import_log,
    lottery_commitment,
    public_release,
    public_release_table,
    refusal,
)

if TYPE_CHECKING:
    import polars as pl

# polars only where decisions are digested: the migrations that link the chain import this
# module, and Alembic imports every migration to find the head (``schoolmode status``).

SCHEME = 1
GENESIS = "0" * 64
CHAIN_LOCK = 7_414_380_117
"""The PostgreSQL advisory lock key of the chain (any fixed number)."""

CHAINED: dict[str, Table] = {
    "decision_run": decision_run,
    "authorisation": authorisation,
    "access_log": access_log,
    "import_log": import_log,
    "lottery_commitment": lottery_commitment,
    "public_release": public_release,
    "refusal": refusal,
}
"""The tables whose every record is linked."""

STAMPS = {
    "decision_run": "created_at",
    "authorisation": "recorded_at",
    "access_log": "at",
    "import_log": "imported_at",
    "lottery_commitment": "created_at",
    "public_release": "created_at",
    "refusal": "recorded_at",
}
"""When each chained record was made: the order :func:`backfill` links them in."""

FIRST_CHAINED = ("decision_run", "authorisation", "access_log")
"""The tables migration 0009 linked (``import_log`` joined the chain in migration 0012,
``lottery_commitment`` in migration 0016)."""


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    return value


def row_digest(row: Mapping[str, Any], extra: Mapping[str, str] | None = None) -> str:
    """sha256 of a record's columns as canonical JSON (dates ISO, timestamps in UTC to the
    microsecond, binary values by their sha256) plus ``extra`` digests of what belongs to it."""
    content = {k: _canonical(v) for k, v in row.items()}
    content.update(extra or {})
    text_ = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def stored_row(conn: Connection, table: str, record_id: int) -> dict[str, Any] | None:
    t = CHAINED[table]
    row = conn.execute(select(t).where(t.c.id == record_id)).mappings().first()
    return None if row is None else dict(row)


DECIDED = (
    "scope",
    "unit",
    "date",
    "mode",
    "status",
    "rule",
    "action",
    "decided_by",
    "trace_json",
    "explanation",
)
"""The columns of a decision that its run's content covers, in this order."""


def decisions_digest(frame: pl.DataFrame) -> str:
    """sha256 of a run's decisions (``DECIDED`` columns, in the order they are stored) as CSV
    text, blanks written ``\\N``."""
    import polars as pl

    text_ = frame.select(
        pl.col(c).cast(pl.String) if c != "date" else pl.col(c).cast(pl.Date).dt.to_string()
        for c in DECIDED
    ).write_csv(null_value="\\N")
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def stored_decisions_digest(conn: Connection, run_id: int) -> str:
    """:func:`decisions_digest` of the decisions stored for run ``run_id``."""
    rows = conn.execute(
        select(*(decision.c[c] for c in DECIDED))
        .where(decision.c.run_id == run_id)
        .order_by(decision.c.id)
    ).all()
    import polars as pl

    frame = pl.DataFrame(
        [tuple(r) for r in rows],
        schema={c: pl.Date if c == "date" else pl.String for c in DECIDED},
        orient="row",
    )
    return decisions_digest(frame)


def record_digest(conn: Connection, table: str, record_id: int) -> str | None:
    """The content digest of a stored record (None: not stored); a decision run's covers its
    decisions."""
    row = stored_row(conn, table, record_id)
    if row is None:
        return None
    if table == "decision_run":
        return row_digest(row, {"decisions": stored_decisions_digest(conn, record_id)})
    if table == "public_release":
        return row_digest(row, {"tables": stored_release_tables_digest(conn, record_id)})
    if table == "import_log" and not _status_covered(conn, row):
        del row["status"]
    return row_digest(row)


def stored_release_tables_digest(conn: Connection, release_id: int) -> str:
    """The digest of a public release's tables as stored: name, rows and the sha256 of the
    content itself (recomputed, so a rewritten blob is seen whatever its ``sha256`` says)."""
    rows = conn.execute(
        select(
            public_release_table.c.name,
            public_release_table.c.rows,
            public_release_table.c.content,
        )
        .where(public_release_table.c.release_id == release_id)
        .order_by(public_release_table.c.name)
    ).all()
    parts = [f"{name}:{n}:{hashlib.sha256(bytes(blob)).hexdigest()}" for name, n, blob in rows]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _status_covered(conn: Connection, row: Mapping[str, Any]) -> bool:
    """Whether an import-log entry's content covers its ``status``: only when it says
    ``superseded`` and no entry names it in ``supersedes_id`` (see the module's docstring)."""
    if row["status"] == "current":
        return False
    successor = conn.execute(
        select(import_log.c.id).where(import_log.c.supersedes_id == row["id"]).limit(1)
    ).first()
    return successor is None


def backfill(conn: Connection, tables: Iterable[str] = FIRST_CHAINED) -> int:
    """Link every record of ``tables`` that has no link yet, oldest first (what the migration
    that chains a table does for a store's earlier records: 0009 the first three, 0012 the
    import log, 0016 the lottery commitments)."""
    linked = {
        (r[0], r[1])
        for r in conn.execute(select(chain_link.c.record_table, chain_link.c.record_id))
    }
    pending = []
    for name in tables:
        table = CHAINED[name]
        for record_id, stamp in conn.execute(select(table.c.id, table.c[STAMPS[name]])):
            if (name, record_id) not in linked:
                pending.append((_canonical(stamp), name, int(record_id)))
    for _, name, record_id in sorted(pending):
        digest = record_digest(conn, name, record_id)
        assert digest is not None
        append_link(conn, name, record_id, digest)
    return len(pending)


def link_digest(prev: str, table: str, record_id: int, content: str) -> str:
    return hashlib.sha256(f"{prev}|{table}|{record_id}|{content}".encode()).hexdigest()


def append_link(conn: Connection, table: str, record_id: int, content: str | None = None) -> str:
    """Link record ``record_id`` of ``table`` after the chain's head, in the caller's
    transaction (``content``: its digest; default :func:`row_digest` of the stored row)."""
    if content is None:
        content = record_digest(conn, table, record_id)
        if content is None:
            raise LookupError(f"{table} {record_id} is not stored: nothing to link")
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    prev = head(conn) or GENESIS
    digest = link_digest(prev, table, record_id, content)
    conn.execute(
        insert(chain_link).values(
            record_table=table,
            record_id=record_id,
            content_sha256=content,
            prev_sha256=prev,
            link_sha256=digest,
            linked_at=dt.datetime.now(dt.UTC),
        )
    )
    return digest


def head(conn: Connection) -> str | None:
    """The latest link's digest (None: an empty chain)."""
    row = conn.execute(
        select(chain_link.c.link_sha256).order_by(chain_link.c.id.desc()).limit(1)
    ).first()
    return None if row is None else str(row[0])


@dataclass(frozen=True)
class ChainHead:
    links: int
    head: str | None
    linked_at: dt.datetime | None


def chain_head(engine: Engine) -> ChainHead:
    """How long the chain is, its head and when the head was linked (what is published)."""
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(chain_link)).scalar_one())
        row = conn.execute(
            select(chain_link.c.link_sha256, chain_link.c.linked_at)
            .order_by(chain_link.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return ChainHead(count, None, None)
    return ChainHead(count, str(row[0]), as_utc(row[1]))

"""The import log read back and the rows per record type: what ``schoolmode status`` and the
import history show. SQLAlchemy only (no polars), so ``status`` starts fast; the imports that
write the log are ``store/service.py``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from schoolmode.store.tables import RECORD_TABLES, import_log


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per record type."""
    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for name, t in RECORD_TABLES.items()
        }


def import_history(engine: Engine) -> list[dict[str, Any]]:
    """Every import log entry, oldest first."""
    with engine.connect() as conn:
        return [
            dict(r._mapping) for r in conn.execute(select(import_log).order_by(import_log.c.id))
        ]


def last_imports(engine: Engine) -> list[dict[str, Any]]:
    """The latest import log entry of each source, by source (``imported_at`` as ISO text)."""
    latest = (
        select(import_log.c.source, func.max(import_log.c.id).label("id"))
        .group_by(import_log.c.source)
        .subquery()
    )
    query = (
        select(import_log)
        .join(latest, import_log.c.id == latest.c.id)
        .order_by(import_log.c.source)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["imported_at"] = row["imported_at"].isoformat()
    return rows

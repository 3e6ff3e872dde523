"""The store's schema container: one ``MetaData`` with the naming convention every table and
migration follows, and the "when and by whom" columns the audit tables share. The tables are in
``tables.py`` (and, for size, the public releases' in ``release_tables.py``); a test checks that
the migrations produce exactly this metadata."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, DateTime, MetaData, String

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def stamp(verb: str, *, nullable: bool = False) -> tuple[Column[Any], Column[Any]]:
    """When and by whom a row was ``verb``-ed: ``<verb>_at`` (timestamp with zone), ``<verb>_by``."""
    return (
        Column(f"{verb}_at", DateTime(timezone=True), nullable=nullable),
        Column(f"{verb}_by", String(200), nullable=nullable),
    )

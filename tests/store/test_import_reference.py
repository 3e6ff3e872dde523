"""A record's ``import_id`` must name an import in ``import_log``: an orphan row is refused on
both databases (SQLite: the foreign key, row by row; PostgreSQL: migration 0024's
statement-level triggers, once per statement), whether it comes by ``COPY``/``executemany``
(``store/bulk.py``), by an ``INSERT`` or by an ``UPDATE``, and nothing of the refused
statement is stored."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from alembic import command
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from schoolmode.importers.standard import StandardLayout
from schoolmode.store import bulk
from schoolmode.store.migrate import alembic_config, schema_diff, upgrade
from schoolmode.store.service import run_import
from schoolmode.store.tables import RECORD_TABLES, import_log
from schoolmode.synth.district import write_standard_files

PERSON = RECORD_TABLES["person"]


def _imported(store: Engine, folder: Path) -> int:
    """The id of an import of two people (a real ``import_log`` row)."""
    people = pl.DataFrame(
        {
            "person_id": ["P1", "P2"],
            "role": ["student", "student"],
            "age_years": [9, 10],
            "household_id": [None, None],
        }
    )
    path = write_standard_files({"person": people}, folder)[0]
    return run_import(store, StandardLayout("district-a"), path, imported_by="test").import_id


def _people(ids: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "person_id": [f"Q{i}" for i in range(len(ids))],
            "role": ["other_staff"] * len(ids),
            "age_years": [40] * len(ids),
            "household_id": [None] * len(ids),
            "import_id": ids,
        },
        schema_overrides={"household_id": pl.String, "import_id": pl.Int32},
    )


def _count(store: Engine) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(PERSON)).scalar_one())


def _no_such_import(store: Engine) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.max(import_log.c.id))).scalar_one()) + 1


def test_a_bulk_write_with_an_orphan_row_is_refused_whole(store: Engine, tmp_path: Path) -> None:
    known = _imported(store, tmp_path)
    orphan = _no_such_import(store)
    rows = _people([known] * (bulk.SLICE + 5) + [orphan])  # the orphan last, after a full slice
    empty = rows.head(0).select(PERSON.primary_key.columns.keys())
    with pytest.raises(IntegrityError) as refused, store.begin() as conn:
        bulk.replace_rows(conn, PERSON, ["person_id"], empty, rows)
    if store.dialect.name == "postgresql":
        assert f"person: import_id {orphan} is not in import_log" in str(refused.value)
    assert _count(store) == 2
    with store.begin() as conn:  # the same rows naming a real import are stored
        bulk.replace_rows(conn, PERSON, ["person_id"], empty, rows.head(bulk.SLICE + 5))
    assert _count(store) == 2 + bulk.SLICE + 5


@pytest.mark.parametrize("statement", ["insert", "update"])
def test_an_insert_or_update_naming_no_import_is_refused(
    store: Engine, tmp_path: Path, statement: str
) -> None:
    known = _imported(store, tmp_path)
    orphan = _no_such_import(store)
    sql = {
        "insert": "INSERT INTO person (person_id, role, import_id) VALUES "
        "('Q1', 'other_staff', :known), ('Q2', 'other_staff', :orphan)",
        "update": "UPDATE person SET import_id = :orphan WHERE person_id = 'P2'",
    }[statement]
    with pytest.raises(IntegrityError), store.begin() as conn:
        conn.execute(text(sql), {"known": known, "orphan": orphan})
    with store.connect() as conn:
        stored = conn.execute(select(PERSON.c.person_id, PERSON.c.import_id)).all()
    assert sorted(stored) == [("P1", known), ("P2", known)]


def test_postgresql_checks_the_reference_by_statement_and_downgrade_restores_the_keys(
    store: Engine,
) -> None:
    """On PostgreSQL no record table has a foreign key on ``import_id`` any more (its row-by-row
    check was the cost of a load), every one has the two triggers; downgrading 0024 puts the
    foreign keys back and removes the triggers and their function; SQLite keeps its keys."""
    keys = {
        "sqlite": "SELECT m.name FROM sqlite_master m, pragma_foreign_key_list(m.name) f "
        "WHERE m.type = 'table' AND f.\"from\" = 'import_id' AND f.\"table\" = 'import_log'",
        "postgresql": "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' "
        "AND confrelid = 'import_log'::regclass AND conname LIKE '%_import_id_import_log'",
    }[store.dialect.name]
    triggers = (
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE '%_import_id_on_%'"
    )

    def found() -> tuple[set[str], set[str]]:
        with store.connect() as conn:
            fks = {str(t).strip('"') for t in conn.execute(text(keys)).scalars()}
            if store.dialect.name != "postgresql":
                return fks, set()
            return fks, set(conn.execute(text(triggers)).scalars())

    every = set(RECORD_TABLES)
    on_triggers = {f"{t}_import_id_on_{e}" for t in every for e in ("insert", "update")}
    if store.dialect.name == "sqlite":
        assert found() == (every, set())
    else:
        assert found() == (set(), on_triggers)
    cfg = alembic_config()
    with store.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0023")
    assert found() == (every, set())
    with store.connect() as conn:  # a foreign key left on PostgreSQL is a difference
        removed = {d[1] for d in schema_diff(conn) if d[0] == "remove_fk"}
    assert removed == (every if store.dialect.name == "postgresql" else set())
    if store.dialect.name == "postgresql":
        with store.connect() as conn:
            function = "SELECT count(*) FROM pg_proc WHERE proname = 'record_import_id_known'"
            assert conn.execute(text(function)).scalar_one() == 0
    upgrade(store)
    assert found() == ((every, set()) if store.dialect.name == "sqlite" else (set(), on_triggers))
    with store.connect() as conn:
        assert schema_diff(conn) == []

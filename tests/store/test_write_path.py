"""The bulk write path (issue 12 item 8: PostgreSQL ``COPY`` into a staging table and one
set-based merge, SQLite batched inserts on one connection) stores exactly what the previous
path (SQLAlchemy ``insert`` of each slice's rows as dicts) stored.

The same imports (every Chicago fixture source, a small synthetic district in the standard
layout, then a correction that changes, removes and adds rows) run on each backend; every
record table and the import log are digested value by value as the database holds them
(SQLite: ``quote()`` of each value, its storage class visible; PostgreSQL: each row's text).
``EXPECTED`` holds the digests the previous path gave (computed on main at b8c45fb with
``stored_digests``); the records read back equal the parsed files' on both backends."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, event, func, select, text

from schoolmode.importers import IMPORTERS
from schoolmode.importers.cps import SchoolProfiles
from schoolmode.importers.standard import StandardLayout
from schoolmode.standard.batch import ROW
from schoolmode.store.bulk import SLICE
from schoolmode.store.frames import record_frame
from schoolmode.store.migrate import schema_diff
from schoolmode.store.service import ImportFailed, run_import
from schoolmode.store.tables import RECORD_TABLES, import_log
from schoolmode.synth.district import SynthConfig, synth_absences, synth_district
from schoolmode.synth.district import write_standard_files as write_files
from tests.conftest import FIXTURE_DATA

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
SCHOOLS = 6


def import_everything(engine: Engine, folder: Path) -> dict[str, pl.DataFrame]:
    """Run the scenario's imports; the parsed frames of the last file of each record type."""
    parsed: dict[str, pl.DataFrame] = {}

    def one(parser: object, path: Path, allow: bool = False) -> None:
        result = run_import(
            engine,
            parser,
            path,
            imported_by="test",
            now=NOW,
            allow_removals=allow,  # type: ignore[arg-type]
        )
        assert result.status == "imported", result
        batch = parser.parse(path)  # type: ignore[attr-defined]
        parsed[batch.model.record_name] = batch.frame

    for _source, importer in sorted(IMPORTERS.items()):
        for path in importer.default_paths(FIXTURE_DATA):
            if path.exists():
                one(importer, path)
    schools = (
        SchoolProfiles()
        .parse(SchoolProfiles().default_paths(FIXTURE_DATA)[0])
        .frame.sort("school_id")
    )
    district = synth_district(schools.head(SCHOOLS), SynthConfig())
    frames = dict(district.frames)
    frames["absence"] = synth_absences(district, SynthConfig())
    layout = StandardLayout("synthetic-district")
    for path in write_files(frames, folder / "first"):
        one(layout, path)
    # a correction: some people removed, some ages changed, one person added
    people = frames["person"]
    kept = people.filter(~pl.col("person_id").is_in(_removed_people(frames)))
    changed = kept.with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0)
        .then(pl.col("age_years") + 1)
        .otherwise(pl.col("age_years"))
        .alias("age_years")
    )
    extra = changed.head(1).with_columns(pl.lit("P9999999").alias("person_id"))
    corrected = write_files({"person": pl.concat([changed, extra])}, folder / "second")
    one(layout, corrected[0], allow=True)
    return parsed


def _removed_people(frames: dict[str, pl.DataFrame]) -> list[str]:
    """People that nothing else refers to (no enrolment, assignment or absence), a few."""
    used = pl.concat(
        [frames[n].select("person_id") for n in ("enrolment", "staff_assignment", "absence")]
    )["person_id"]
    free = frames["person"].filter(~pl.col("person_id").is_in(used.implode()))
    return free["person_id"].head(5).to_list()


def _rows(conn: Connection, table: str, columns: list[str]) -> list[str]:
    if conn.dialect.name == "sqlite":
        cells = " || char(31) || ".join(f'quote("{c}")' for c in columns)
        return [r[0] for r in conn.execute(text(f'SELECT {cells} FROM "{table}"'))]
    query = f'SELECT CAST(t AS text) FROM "{table}" AS t'
    return [r[0] for r in conn.execute(text(query))]


def stored_digests(engine: Engine) -> dict[str, str]:
    """sha256 of each non-empty record table's rows and of the import log, as stored."""
    out = {}
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET TimeZone = 'UTC'"))
        for table in [*RECORD_TABLES.values(), import_log]:
            rows = sorted(_rows(conn, table.name, [c.name for c in table.columns]))
            if rows:
                out[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


EXPECTED: dict[str, dict[str, str]] = {
    "sqlite": {
        "district": "114b6088b6f9589cce892c99d55060eeff6f8293b24cad615520ea9cf2b9bb75",
        "school": "661ffb1299d7de22dbf9ccdd3044a1f2417892ab4f2d14ea872d2be25369d285",
        "calendar_day": "c149801b5d031c78092f5e370f7c9def7e68f7532155fb3303f02866a2abfcf3",
        "classroom": "5d70f821ee22f86a8838cd9dc0d84141296bccc28560a177523ba6ff8e06ab25",
        "person": "0462f0dee12eea2256ab8202b926dddc47e41c193a2dcda0a099a3d8ed0d1aba",
        "household": "a9479c0c916ef36bb46060eee167584742dfa1ab83a00f13cfcc8e01a8e36c2e",
        "enrolment": "7419ede19ff64114da8f15d61164f49e8e93ee35f0e78cbbed47df989617b030",
        "staff_assignment": "16c0d2e2161ba3e072d324be0487d742cc74a66d71bf092918dfbbd2b9f84017",
        "absence": "70eb0869880916c84b7ed18f5442022017fe9d6cb37b3820f84b10bfef9b8941",
        "community_indicator": "222c10c8cfd062e5b29679682c22521f1b358a0fd74bc6dcc9c88778f6efb0c0",
        "school_case_report": "086c57cca535477af8af6ef5ec307d7b7a604b9d09221f1b42170649439febfc",
        "population": "d19af572b1eb68bc7149efe22057303accb18d8d08dd9a8219657226b1a3d7d1",
        "import_log": "263545f4d9c0f4c19e77acadc8133b9ccadc9fc967b62215bee9e038206dd9ab",
    },
    "postgresql": {
        "district": "94d1b02cfeaf1ecda2bad6511b9e03d3691c143742cf42f97755680b4c3b4dd0",
        "school": "b98e0d45a6a465779b08390ffefa2f095457f426d249c4feeb36a7de9f007c7a",
        "calendar_day": "affab951284468d62052d4ccf26a78e4e6cf1f01c90f9476d1319bb8a8d5e895",
        "classroom": "2ef40ae602bba1ab2bd3d235598722dc84d0761703885284c8c8c7adbafe4721",
        "person": "4f45abcb742dc68d265940579260561911c13e339e933d714c9016f7e3b9871a",
        "household": "d95dc4d5fbc8d34ffb13a8cf2decc17089b5c77290d42088f746e709fc1c2226",
        "enrolment": "729b7e01443fa7235e010b2dcc3998e4b3c82960a7969ec5285ec644d41045ea",
        "staff_assignment": "e4793c7c9b660d6164f5f33ec2e86f294928aecf3969b4033238bfb7598143f8",
        "absence": "60ceb47defe5f98e0ed96754290e5aece9b7d32a746125e8322ed15acae1b3b2",
        "community_indicator": "dc83e5fa2541541a29118c41efd87238beb92424d2aaeb0fa09a843c3f00bdf5",
        "school_case_report": "675758af455603694c83968d5e4198bc4adba9cb1b2c8644f75ed14360c31624",
        "population": "f5275e5b9cf11910d3873a1b27fb94dd2f8e037cf4f4968f7c44829cfbd9197e",
        "import_log": "1b5037da1f740d2c79bfea25366d8a4c33978190935124a8694f438f59df4b4c",
    },
}


def test_the_write_path_stores_what_the_previous_path_stored(store: Engine, tmp_path: Path) -> None:
    parsed = import_everything(store, tmp_path)
    assert stored_digests(store) == EXPECTED[store.dialect.name]
    for name, frame in parsed.items():
        stored = record_frame(store, name)
        expected = frame.drop(ROW)
        if name == "person":  # the correction superseded the first file's people
            assert stored.height == expected.height
        key = list(RECORD_TABLES[name].primary_key.columns.keys())
        mine = stored.join(expected.select(key), on=key, how="semi", nulls_equal=True)
        assert mine.sort(key).equals(expected.sort(key), null_equal=True), name


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_sqlite_statements_of_fewer_rows_store_the_same_values(
    store: Engine, tmp_path: Path
) -> None:
    """SQLite inserts many rows per statement, as many as the library lets one statement bind:
    with that limit lowered to 24 values (one to four rows a statement, a last statement of
    the rows left over), the same imports store the same values."""
    assert store.dialect.name == "sqlite"

    def few(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 24)

    event.listen(store, "connect", few)
    store.dispose()
    with store.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        assert raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) == 24
    import_everything(store, tmp_path)
    assert stored_digests(store) == EXPECTED["sqlite"]


def _people(folder: Path, count: int) -> Path:
    people = pl.DataFrame(
        {
            "person_id": [f"P{i:07d}" for i in range(count)],
            "role": ["student"] * count,
            "age_years": [9] * count,
            "household_id": [None] * count,
        }
    )
    return write_files({"person": people}, folder)[0]


def _schema_diff(engine: Engine) -> list[object]:
    """What the store's tables and indexes lack or have beyond ``tables.py``'s."""
    with engine.connect() as conn:
        return schema_diff(conn)


def test_a_key_of_another_dataset_is_refused_whole(store: Engine, tmp_path: Path) -> None:
    """A row whose key another dataset holds: the database refuses it (COPY on PostgreSQL,
    a multi-row ``INSERT`` on SQLite), the service says so, nothing of the file is stored."""
    path = _people(tmp_path / "a", 3)
    run_import(store, StandardLayout("district-a"), path, imported_by="test")
    before = stored_digests(store)
    clash = _people(tmp_path / "b", 2 * SLICE)  # the first three people are district-a's
    with pytest.raises(ImportFailed, match="the database refused the file"):
        run_import(store, StandardLayout("district-b"), clash, imported_by="test")
    assert stored_digests(store) == before
    assert _schema_diff(store) == []


class Stop(Exception):
    """Raised by a progress callback to end an import mid-write."""


def test_a_load_into_an_empty_table_leaves_its_indexes_as_declared(
    store: Engine, tmp_path: Path
) -> None:
    """SQLite drops an empty table's secondary indexes for a load and creates them again after
    it: a load stopped mid-write (rolled back) and a completed one leave the indexes of
    ``tables.py``, and the rows are found through them."""
    path = _people(tmp_path, 2 * SLICE + 7)
    layout = StandardLayout("synthetic-district")

    def stop(stage: str, done: int, total: int) -> None:
        if stage == "write" and done < total:
            raise Stop

    if store.dialect.name == "sqlite":  # PostgreSQL reports the write once, at its end
        with pytest.raises(Stop):
            run_import(store, layout, path, imported_by="test", progress=stop)
        assert stored_digests(store) == {}
        assert _schema_diff(store) == []
    result = run_import(store, layout, path, imported_by="test")
    assert result.added == 2 * SLICE + 7
    assert _schema_diff(store) == []
    table = RECORD_TABLES["person"]
    with store.connect() as conn:
        if store.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT count(*) FROM person WHERE import_id = ?",
                (result.import_id,),
            ).all()
            assert any("ix_person_import_id" in str(row) for row in plan), plan
        stored = conn.execute(
            select(func.count()).where(table.c.import_id == result.import_id)
        ).scalar_one()
    assert stored == 2 * SLICE + 7

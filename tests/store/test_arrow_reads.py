"""Several record types read in one snapshot (``store.frames.record_frames``): from an SQLite
file through the Arrow driver, the same frames (values, types, order) as the Python driver's
rows; in memory and on PostgreSQL through SQLAlchemy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from schoolmode.store import arrow
from schoolmode.store import frames as store_frames
from schoolmode.store.db import make_engine
from schoolmode.store.frames import record_frame, record_frames
from schoolmode.store.migrate import upgrade
from schoolmode.store.tables import RECORD_TABLES
from tests.conftest import case_row, import_frames, standard_frame

DAY = dt.date(2022, 1, 10)


def _records(folder: Path, store: Engine) -> None:
    # more than one driver batch (1,024 rows) of blank end dates before the first filled one,
    # blank and filled booleans and texts: every column typed as the Python driver's rows are
    rows = [
        {
            "person_id": f"P{i:05d}",
            "classroom_id": "R1" if i % 2 else "R2",
            "start_date": DAY - dt.timedelta(days=30),
            "end_date": None if i < 1500 else DAY + dt.timedelta(days=i % 7),
            "learning_choice": None if i < 1200 else "remote",
        }
        for i in range(2000)
    ]
    cases = [case_row(f"C{i}", f"P{i:05d}", DAY - dt.timedelta(days=i)) for i in range(5)]
    cases[0]["household_linked"] = True
    import_frames(
        store,
        {
            "school": standard_frame(
                "school",
                [
                    {
                        "school_id": "S1",
                        "school_year": "2021-2022",
                        "district_id": "D",
                        "name": "One",
                        "level": "ES",
                        "grades": "3",
                        "zip": "60601",
                        "enrolment": 2000,
                    }
                ],
            ),
            "classroom": standard_frame(
                "classroom",
                [
                    {"classroom_id": r, "school_id": "S1", "school_year": "2021-2022", "grade": "3"}
                    for r in ("R1", "R2")
                ],
            ),
            "person": standard_frame(
                "person",
                [{"person_id": r["person_id"], "role": "student", "age_years": 8} for r in rows],
            ),
            "enrolment": standard_frame("enrolment", rows[:1]).vstack(
                pl.DataFrame(rows[1:], schema=standard_frame("enrolment", rows[:1]).schema)
            ),
            "case": standard_frame("case", cases),
        },
        folder,
    )


def _python_driver(engine: Engine, wheres: dict[str, object]) -> dict[str, pl.DataFrame]:
    with engine.connect() as conn:
        return {name: record_frame(conn, name, where) for name, where in wheres.items()}  # type: ignore[arg-type]


def test_arrow_reads_equal_the_python_drivers_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade(engine)
    _records(tmp_path / "files", engine)
    enrolment = RECORD_TABLES["enrolment"]
    wheres = {
        "enrolment": enrolment.c.end_date.is_(None) | (enrolment.c.end_date >= DAY),
        "case": None,
        "classroom": None,
        "absence": None,  # empty: typed from the schema
    }
    assert arrow.database_file(engine) == tmp_path / "store.sqlite"
    fast = record_frames(engine, wheres)
    slow = _python_driver(engine, wheres)
    assert fast.keys() == slow.keys()
    for name in wheres:
        assert fast[name].schema == slow[name].schema, name
        assert fast[name].equals(slow[name]), name
    assert fast["enrolment"].height > 1500
    assert fast["enrolment"]["end_date"].null_count() == 1500
    assert fast["case"]["household_linked"].to_list().count(True) == 1
    assert fast["absence"].height == 0


def test_the_arrow_path_is_the_one_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade(engine)
    _records(tmp_path / "files", engine)
    calls: list[str] = []

    def record(conn: object, name: str, where: object = None) -> pl.DataFrame:
        calls.append(name)
        raise AssertionError("read row by row")

    monkeypatch.setattr(store_frames, "record_frame", record)
    assert record_frames(engine, {"case": None})["case"].height == 5
    assert calls == []


def test_without_a_file_it_reads_through_sqlalchemy(store: Engine, tmp_path: Path) -> None:
    """An in-memory database and PostgreSQL (the ``store`` fixture's second backend)."""
    engines = [store, make_engine("sqlite://")]
    upgrade(engines[1])
    for engine in engines:
        if engine is store or engine.url.database in (None, ""):
            assert arrow.database_file(engine) is None or engine is store
        _records(tmp_path / engine.dialect.name / str(id(engine)), engine)
        frames = record_frames(engine, {"enrolment": None, "case": None})
        assert frames["enrolment"].height == 2000
        assert frames["case"].height == 5

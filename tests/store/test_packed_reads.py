"""Several record types read in one state of the store (``store.frames.record_frames``): from
SQLite packed by SQLite into one JSON array per column (``store/packed.py``), the same frames
(values, types, order) as the Python driver's rows, with two groups read at once that agree on
the store's version; in memory (one group) and on PostgreSQL through SQLAlchemy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, insert, select

from schoolmode.store import frames as store_frames
from schoolmode.store import packed
from schoolmode.store.db import make_engine
from schoolmode.store.frames import record_frame, record_frames
from schoolmode.store.migrate import upgrade
from schoolmode.store.tables import RECORD_TABLES
from tests.conftest import case_row, import_frames, standard_frame

DAY = dt.date(2022, 1, 10)


def _records(folder: Path, store: Engine) -> None:
    # blank end dates before the first filled one, blank and filled booleans and texts: every
    # column typed as the Python driver's rows are
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


TRICKY = [
    'P"quoted"',
    "P\\back\\slash",
    "P\nnew line",
    "P\ttab",
    "P\u200bzero width",
    "P é ü 中 😀",
]
"""Person ids JSON must escape (quotes, backslashes, control and invisible characters) or
encode (beyond ASCII and the Basic Multilingual Plane)."""


def _tricky(engine: Engine) -> None:
    """Enrolments whose person ids are ``TRICKY`` (written directly: the import's CSV layer is
    not what is tested here)."""
    table = RECORD_TABLES["enrolment"]
    with engine.begin() as conn:
        import_id = conn.execute(select(table.c.import_id).limit(1)).scalar_one()
        conn.execute(
            insert(table),
            [
                {
                    "person_id": person,
                    "classroom_id": "R1",
                    "start_date": DAY,
                    "end_date": None,
                    "learning_choice": "in_person",
                    "import_id": import_id,
                }
                for person in TRICKY
            ],
        )


@pytest.mark.parametrize("chunk", [packed.CHUNK_ROWS, 7])
def test_packed_reads_equal_the_python_drivers_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Read whole and seven row ids at a time (the first 1,200 enrolments are left out by the
    clause: chunks with no row)."""
    monkeypatch.setattr(packed, "CHUNK_ROWS", chunk)
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade(engine)
    _records(tmp_path / "files", engine)
    _tricky(engine)
    enrolment = RECORD_TABLES["enrolment"]
    wheres = {
        "enrolment": enrolment.c.learning_choice.is_not(None)
        & (enrolment.c.end_date.is_(None) | (enrolment.c.end_date >= DAY)),
        "case": None,
        "classroom": None,
        "absence": None,  # empty: typed from the schema
    }
    fast = record_frames(engine, wheres)
    slow = _python_driver(engine, wheres)
    assert fast.keys() == slow.keys()
    for name in wheres:
        assert fast[name].schema == slow[name].schema, name
        assert fast[name].equals(slow[name]), name
    assert fast["enrolment"].height == 800 + len(TRICKY)
    assert fast["enrolment"]["end_date"].null_count() == 300 + len(TRICKY)
    assert set(TRICKY) <= set(fast["enrolment"]["person_id"].to_list())
    assert fast["case"]["household_linked"].to_list().count(True) == 1
    assert fast["absence"].height == 0


def test_only_the_columns_named_are_read(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade(engine)
    _records(tmp_path / "files", engine)
    read = record_frames(engine, {"case": None}, {"case": ["report_date", "person_id"]})
    assert read["case"].columns == ["person_id", "report_date"]  # the standard's order
    assert read["case"].equals(
        _python_driver(engine, {"case": None})["case"].select(read["case"].columns)
    )
    with pytest.raises(KeyError, match="no column nonsense"):
        record_frames(engine, {"case": None}, {"case": ["nonsense"]})


def test_the_packed_path_is_the_one_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade(engine)
    _records(tmp_path / "files", engine)
    calls: list[str] = []

    def rows(*args: object) -> pl.DataFrame:
        calls.append("rows")
        raise AssertionError("read row by row")

    monkeypatch.setattr(store_frames, "table_frame", rows)
    read = record_frames(engine, {"case": None, "enrolment": None})
    assert read["case"].height == 5
    assert read["enrolment"].height == 2000
    assert calls == []


def test_groups_read_again_until_they_agree_on_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit between the groups' transactions (their versions differ): read again; still
    differing: every query in one transaction."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade(engine)
    _records(tmp_path / "files", engine)
    want = _python_driver(engine, {"case": None, "enrolment": None})
    versioned = packed._versioned
    seen: list[tuple[int, list[str]]] = []

    def moving(engine_: Engine, queries: dict[packed.Key, packed.Packed], version: str) -> object:
        read = versioned(engine_, queries, version)
        assert read is not None
        seen.append((len(seen), sorted(queries)))
        return ((len(seen),), read[1])  # a new version for every transaction

    monkeypatch.setattr(packed, "_versioned", moving)
    read = record_frames(engine, {"case": None, "enrolment": None})
    tries = [names for _, names in seen]
    assert len(tries) == 5
    assert sorted(map(tuple, tries[:2])) == sorted(map(tuple, tries[2:4]))
    assert sorted(tries[4]) == sorted(tries[0] + tries[1])  # after two tries: one transaction
    assert {name for name, _ in tries[4]} == {"case", "enrolment"}
    for name, frame in want.items():
        assert read[name].equals(frame)

    agreeing: list[int] = []

    def steady(engine_: Engine, queries: dict[packed.Key, packed.Packed], version: str) -> object:
        agreeing.append(len(queries))
        return versioned(engine_, queries, version)

    monkeypatch.setattr(packed, "_versioned", steady)
    record_frames(engine, {"case": None, "enrolment": None})
    assert len(agreeing) == 2  # two groups, one try


def test_a_value_of_another_type_is_read_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An integer column holding text (SQLite keeps what it is given): the packed array cannot
    be typed as the column, so the rows are read the usual way (which reports the value)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade(engine)
    _records(tmp_path / "files", engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE school SET enrolment = 'many'")
    query, _ = store_frames._packed_query(
        engine.dialect, RECORD_TABLES["school"], {"enrolment": pl.Int64}, None, 1
    ) or (None, None)
    assert query is not None
    with pytest.raises(pl.exceptions.PolarsError):
        query.frame(['["many"]'])
    fallback: list[str] = []

    def rows(conn: object, table: object, schema: object, where: object = None) -> pl.DataFrame:
        fallback.append(str(getattr(table, "name", table)))
        return pl.DataFrame()

    monkeypatch.setattr(store_frames, "table_frame", rows)
    record_frames(engine, {"school": None, "case": None})
    assert fallback == ["school", "case"]


def test_without_a_file_it_reads_in_one_transaction(store: Engine, tmp_path: Path) -> None:
    """An in-memory database (each connection its own: one group) and PostgreSQL (the
    ``store`` fixture's second backend: row by row)."""
    engines = [store, make_engine("sqlite://")]
    upgrade(engines[1])
    for engine in engines:
        _records(tmp_path / engine.dialect.name / str(id(engine)), engine)
        frames = record_frames(engine, {"enrolment": None, "case": None})
        assert frames["enrolment"].height == 2000
        assert frames["case"].height == 5


def test_reads_are_balanced_by_row_ids() -> None:
    """Two groups of about as many row ids each; a large query split where its group is full;
    the pieces join back in order."""
    big = packed.Packed("", ("a",), (pl.Int64,), 0, 1000)
    small = packed.Packed("", ("b",), (pl.Int64,), 0, 200)
    groups = packed.balanced({"big": big, "small": small}, 2)
    assert [sorted(g) for g in groups] == [[("big", 0)], [("big", 1), ("small", 0)]]
    assert (groups[0]["big", 0].low, groups[0]["big", 0].high) == (0, 600)
    assert (groups[1]["big", 1].low, groups[1]["big", 1].high) == (600, 1000)
    assert packed.balanced({"big": big}, 1) == [{("big", 0): big}]
    frames = packed.joined(
        {
            ("big", 1): pl.DataFrame({"a": [3, 4]}),
            ("small", 0): pl.DataFrame({"a": [9]}),
            ("big", 0): pl.DataFrame({"a": [1, 2]}),
        }
    )
    assert frames["big"]["a"].to_list() == [1, 2, 3, 4]
    assert frames["small"]["a"].to_list() == [9]

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select

from schoolmode.importers import IMPORTERS
from schoolmode.importers.cdph import DailyTesting
from schoolmode.standard.batch import FileValidationError
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import current_revision, head_revision, schema_diff, upgrade
from schoolmode.store.service import RemovalRefused, import_history, row_counts, run_import
from schoolmode.store.tables import RECORD_TABLES
from tests.conftest import FIXTURE_DATA, store_url

TESTING = "chicago-daily-testing/COVID-19_Daily_Testing_-_By_Test.csv"


def test_migrations_build_exactly_the_declared_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    assert upgrade(engine) == head_revision()
    upgrade(engine)  # idempotent
    with engine.connect() as conn:
        diff = schema_diff(conn)
    assert diff == [], f"migrations and tables.py disagree; add a migration: {diff}"
    engine.dispose()


def _snapshot(engine: Engine) -> tuple[dict[str, int], list[dict[str, object]]]:
    return row_counts(engine), import_history(engine)


def _testing_rows(engine: Engine) -> pl.DataFrame:
    t = RECORD_TABLES["community_indicator"]
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.date, t.c.metric, t.c.value, t.c.import_id)).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"date": pl.Date, "metric": pl.String, "value": pl.Float64, "import_id": pl.Int64},
        orient="row",
    )


def test_same_file_twice_changes_nothing(store: Engine, fixture_data: Path) -> None:
    path = fixture_data / TESTING
    first = run_import(store, DailyTesting(), path, imported_by="alice")
    assert first.status == "imported"
    assert first.added == first.rows_in_file == 634 * 57
    assert first.skipped == 1  # the row with a blank Date
    before = _snapshot(store)
    again = run_import(store, DailyTesting(), path, imported_by="bob")
    assert again.status == "unchanged"
    assert again.import_id == first.import_id
    assert _snapshot(store) == before
    (log,) = import_history(store)
    assert log["imported_by"] == "alice"
    assert log["file_sha256"] == first.sha256
    assert log["status"] == "current"


def test_corrected_file_replaces_what_it_supersedes_and_log_keeps_both(
    store: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    original = tmp_path / "testing.csv"
    shutil.copy(fixture_data / TESTING, original)
    first = run_import(store, DailyTesting(), original, imported_by="alice")

    lines = original.read_text().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    target = next(i for i, r in enumerate(rows) if r.startswith("03/26/2021,"))
    cells = rows[target].split(",")
    assert cells[2] == "647"  # Positive Tests on 2021-03-26
    cells[2] = "648"
    rows[target] = ",".join(cells)
    dropped = next(i for i, r in enumerate(rows) if r.startswith("09/17/2020,"))
    del rows[dropped]
    corrected = tmp_path / "testing-corrected.csv"
    corrected.write_text(header + "".join(rows))

    with pytest.raises(RemovalRefused, match=r"would remove 57 of the \d[\d,]* stored rows"):
        run_import(store, DailyTesting(), corrected, imported_by="bob")
    assert len(import_history(store)) == 1  # refused: nothing logged, nothing changed
    second = run_import(store, DailyTesting(), corrected, imported_by="bob", allow_removals=True)
    assert second.status == "imported"
    assert (second.added, second.changed, second.removed) == (0, 1, 57)
    assert second.unchanged == first.rows_in_file - 57 - 1

    log = import_history(store)
    assert [(e["id"], e["status"], e["imported_by"]) for e in log] == [
        (first.import_id, "superseded", "alice"),
        (second.import_id, "current", "bob"),
    ]
    assert log[1]["supersedes_id"] == first.import_id
    assert log[1]["file_sha256"] != log[0]["file_sha256"]
    assert (log[1]["rows_changed"], log[1]["rows_removed"]) == (1, 57)

    rows_now = _testing_rows(store)
    assert rows_now.height == first.rows_in_file - 57
    fixed = rows_now.filter(
        (pl.col("date") == dt.date(2021, 3, 26)) & (pl.col("metric") == "positive_tests")
    )
    assert fixed.rows() == [(dt.date(2021, 3, 26), "positive_tests", 648.0, second.import_id)]
    assert rows_now.filter(pl.col("date") == dt.date(2020, 9, 17)).height == 0
    # identical rows keep the import that wrote them
    assert rows_now.filter(pl.col("import_id") == first.import_id).height == second.unchanged

    # re-importing the original (a correction back) works and is logged as a third import
    third = run_import(store, DailyTesting(), original, imported_by="carol")
    assert (third.added, third.changed, third.removed) == (57, 1, 0)
    assert [e["status"] for e in import_history(store)] == ["superseded", "superseded", "current"]


def test_a_file_with_errors_changes_nothing_and_names_row_field_value(
    store: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    run_import(store, DailyTesting(), fixture_data / TESTING)
    before = _snapshot(store)
    lines = (fixture_data / TESTING).read_text().splitlines(keepends=True)
    bad = lines[:4]
    c2 = bad[2].split(",")
    c2[0] = "2021-02-30"
    bad[2] = ",".join(c2)
    c3 = bad[3].split(",")
    c3[4] = "-5"
    bad[3] = ",".join(c3)
    bad.append(lines[1])  # duplicate of data row 1
    path = tmp_path / "bad.csv"
    path.write_text("".join(bad))
    with pytest.raises(FileValidationError) as info:
        run_import(store, DailyTesting(), path)
    message = str(info.value)
    assert (
        f"{path}: data row 2, field 'Date': value '2021-02-30'; expected a date MM/DD/YYYY"
        in message
    )
    assert (
        f"{path}: data row 3, field 'Total Tests': value '-5'; expected a whole number >= 0"
        in message
    )
    assert "nothing imported" in message
    assert _snapshot(store) == before


def test_duplicate_keys_are_reported_with_their_rows(
    store: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    lines = (fixture_data / TESTING).read_text().splitlines(keepends=True)
    path = tmp_path / "dup.csv"
    path.write_text("".join([lines[0], lines[1], lines[2], lines[1]]))
    with pytest.raises(FileValidationError, match=r"data row 3, field 'source\+geography_type"):
        run_import(store, DailyTesting(), path)
    assert sum(row_counts(store).values()) == 0
    assert import_history(store) == []


def _big_testing_file(path: Path, days: int) -> None:
    """``days`` days of the testing file's first 38 count columns (its real header's)."""
    published = (FIXTURE_DATA / TESTING).read_text().splitlines()[0].split(",")
    header = published[:40]  # Date, Day and 38 counts, Positive Tests first
    assert header[:5] == ["Date", "Day", "Positive Tests", "Not Positive Tests", "Total Tests"]
    start = dt.date(2022, 1, 1)  # after the fixture's last day, before today (dates are checked)
    with path.open("w") as fh:
        fh.write(",".join(header) + "\n")
        for n in range(days):
            d = start + dt.timedelta(days=n)
            counts = [str((n * 7 + k) % 1000) for k in range(38)]
            counts[2] = str(int(counts[0]) + int(counts[1]))  # total = positive + not positive
            fh.write(f"{d:%m/%d/%Y},{d:%A}," + ",".join(counts) + "\n")


KILL_DAYS = 300

KILL_CHILD = """
import os, sys
from pathlib import Path
from schoolmode.importers.cdph import DailyTesting
from schoolmode.store.db import make_engine
from schoolmode.store.service import run_import

def progress(stage, done, total):
    print(stage, done, total, flush=True)
    # wait inside the open transaction, rows written, until the test kills us; if the
    # test goes away instead (stdin closes), leave without committing
    sys.stdin.read()
    os._exit(3)

run_import(
    make_engine(sys.argv[1]), DailyTesting(), Path(sys.argv[2]), progress=progress,
    allow_removals=True,
)
print("committed", flush=True)
"""


@pytest.mark.slow
def test_killing_the_process_mid_import_leaves_the_store_as_before(
    store: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    db_url = store_url(store)
    # a store holding an import of the same source, which the killed import supersedes: its
    # deletes and the log's update must be rolled back too (a month of the fixture: removing
    # all of its 36,138 rows would take half a minute)
    prior = tmp_path / "prior.csv"
    lines = (fixture_data / TESTING).read_text().splitlines(keepends=True)
    prior.write_text("".join(lines[:31]))
    assert run_import(store, DailyTesting(), prior).added == 30 * 57
    before = _snapshot(store)
    big = tmp_path / "big.csv"
    _big_testing_file(big, KILL_DAYS)  # 11,400 records
    with subprocess.Popen(
        [sys.executable, "-c", KILL_CHILD, db_url, str(big)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    ) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        first = child.stdout.readline()
        if not first.startswith("write "):
            child.kill()
            pytest.fail(f"child did not start writing: {first!r} {child.stderr.read()}")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    # killed with rows written (the bulk write reports after each slice; a file of this size is
    # one slice), the transaction open: its deletes, rows and log update are all rolled back
    assert first.split() == ["write", str(KILL_DAYS * 38), str(KILL_DAYS * 38)]
    store.dispose()
    reopened = make_engine(db_url)
    assert _snapshot(reopened) == before
    # and the store still takes the file afterwards
    result = run_import(reopened, DailyTesting(), big, allow_removals=True)
    assert result.added == KILL_DAYS * 38
    reopened.dispose()


def test_every_importer_is_registered_under_its_source() -> None:
    assert sorted(IMPORTERS) == sorted(
        [
            "cdph-daily-testing",
            "cdph-daily-cases",
            "cdph-zip-weekly",
            "cdph-vaccination-zip",
            "cdph-population",
            "cps-school-profiles",
            "cps-school-covid-cases",
            "idph-illinois-statewide",
            "ontario-school-cases",
            "sociopatterns",
        ]
    )


def test_a_short_file_is_refused_and_changes_nothing(
    store: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    """The first rows of a file, or its header alone, would delete most or all of a stored
    dataset: refused (the header alone even with ``allow_removals``), the store as it was."""
    run_import(store, DailyTesting(), fixture_data / TESTING)
    before = _snapshot(store)
    lines = (fixture_data / TESTING).read_text().splitlines(keepends=True)
    short = tmp_path / "short.csv"
    short.write_text("".join(lines[:11]))
    with pytest.raises(RemovalRefused) as refused:
        run_import(store, DailyTesting(), short)
    message = str(refused.value)
    assert str(short) in message
    assert "cdph-daily-testing dataset citywide" in message
    assert "--allow-removals" in message
    header = tmp_path / "header.csv"
    header.write_text(lines[0])
    for allow in (False, True):
        with pytest.raises(RemovalRefused, match="no data rows"):
            run_import(store, DailyTesting(), header, allow_removals=allow)
    assert _snapshot(store) == before


def test_a_header_only_file_into_an_empty_dataset_removes_nothing(
    store: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    header = tmp_path / "header.csv"
    header.write_text((fixture_data / TESTING).read_text().splitlines(keepends=True)[0])
    result = run_import(store, DailyTesting(), header)
    assert (result.rows_in_file, result.added, result.removed) == (0, 0, 0)

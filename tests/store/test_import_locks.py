"""One writer per source (issue 12, item 4): two imports running at once in two real processes
end as "one then the other" or "the second refused", never a mix, on SQLite and PostgreSQL.

The first import stops inside its transaction (in its progress callback, after writing its
first rows) until the test lets it go; the second is started only then, and the test waits for
it to say that it waits (its ``on_wait``) before letting the first go on: the interleaving
happens every time, with no sleep.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from schoolmode.importers import IMPORTERS
from schoolmode.importers.cdph import DailyTesting
from schoolmode.standard.batch import FileValidationError
from schoolmode.store.db import make_engine
from schoolmode.store.locks import StoreBusy, writing
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import import_history, import_set, run_import
from schoolmode.store.tables import RECORD_TABLES, import_log
from tests.conftest import FIXTURE_DATA, store_url

TESTING = FIXTURE_DATA / "chicago-daily-testing/COVID-19_Daily_Testing_-_By_Test.csv"
SPAWN = mp.get_context("spawn")
PATIENCE = 120.0
"""Seconds a process or the test waits for the other side before giving up (a hang, not a
measure: every wait below ends as soon as the other side has done its step)."""


def days_file(path: Path, days: int, source: Path = TESTING) -> Path:
    """The fixture's testing (or ``source``) file cut to its first ``days`` days."""
    lines = source.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: days + 1]))
    return path


Jobs = list[tuple[str, str]]
"""``(source, path)`` of each file an import reads, in order."""


def _import(url: str, jobs: Jobs, **kwargs: Any) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    try:
        results = import_set(
            engine, [(IMPORTERS[source], Path(path)) for source, path in jobs], **kwargs
        )
    finally:
        engine.dispose()
    return [(r.status, r.import_id, r.added, r.unchanged) for r in results]


def held_import(url: str, jobs: Jobs, holding: Event, release: Event, out: Any) -> None:
    """Import ``jobs``, stopping inside the transaction (after the first rows written) until
    ``release``; put ``("A", outcome...)`` on ``out``."""

    def progress(_stage: str, _done: int, _total: int) -> None:
        if not holding.is_set():
            holding.set()
            if not release.wait(PATIENCE):
                os._exit(3)  # the test went away: leave without committing

    try:
        out.put(("A", "ok", _import(url, jobs, progress=progress)))
    except Exception as exc:  # reported to the test, which fails on it
        out.put(("A", "error", type(exc).__name__, str(exc)))


def _second_import(url: str, jobs: Jobs, wait: float, waiting: Event, out: Any) -> None:
    """Import ``jobs`` (waiting at most ``wait`` s for the lock); put what it was told while
    waiting and its outcome on ``out``."""

    def on_wait(message: str) -> None:
        out.put(("B", "waiting", message))
        waiting.set()

    try:
        out.put(("B", "ok", _import(url, jobs, wait=wait, on_wait=on_wait)))
    except Exception as exc:
        out.put(("B", "error", type(exc).__name__, str(exc)))


def _race(url: str, first: Jobs, second: Jobs, wait: float) -> dict[str, list[tuple[Any, ...]]]:
    """Run the two imports as described above; the messages of each process, by process."""
    out = SPAWN.Queue()
    holding, release, waiting = SPAWN.Event(), SPAWN.Event(), SPAWN.Event()
    a = SPAWN.Process(target=held_import, args=(url, first, holding, release, out))
    b = SPAWN.Process(target=_second_import, args=(url, second, wait, waiting, out))
    a.start()
    try:
        assert holding.wait(PATIENCE), "the first import never started writing"
        b.start()
        assert waiting.wait(PATIENCE), "the second import never waited for the first"
        if wait < PATIENCE:
            b.join(PATIENCE)  # it gives up while the first still holds the lock
            assert b.exitcode == 0
        release.set()
        a.join(PATIENCE)
        b.join(PATIENCE)
        assert (a.exitcode, b.exitcode) == (0, 0)
    finally:
        release.set()
        for p in (a, b):
            if p.is_alive():
                p.kill()
    said: dict[str, list[tuple[Any, ...]]] = {"A": [], "B": []}
    while True:
        try:
            message = out.get(timeout=1)
        except queue.Empty:
            break
        said[message[0]].append(message[1:])
    return said


def _one(said: dict[str, list[tuple[Any, ...]]], who: str, kind: str) -> Any:
    """The one message of ``kind`` that ``who`` sent, without its kind."""
    (found,) = [m[1:] for m in said[who] if m[0] == kind]
    return found[0] if len(found) == 1 else found


def _testing_job(path: Path) -> Jobs:
    return [("cdph-daily-testing", str(path))]


def _stored(engine: Engine) -> set[tuple[Any, ...]]:
    """Every stored community indicator (testing and cases: both sources write them), without
    the import that wrote it."""
    t = RECORD_TABLES["community_indicator"]
    with engine.connect() as conn:
        rows = conn.execute(select(*(c for c in t.c if c.name != "import_id")))
        return {tuple(r) for r in rows}


def _alone(jobs: Jobs) -> set[tuple[Any, ...]]:
    """The rows ``jobs`` alone store, in a fresh SQLite store beside their first file."""
    solo = make_engine(f"sqlite:///{Path(jobs[0][1]).with_suffix('.sqlite')}")
    upgrade(solo)
    import_set(solo, [(IMPORTERS[source], Path(path)) for source, path in jobs])
    rows = _stored(solo)
    solo.dispose()
    return rows


def test_two_imports_of_different_files_run_one_then_the_other(
    store: Engine, tmp_path: Path
) -> None:
    db_url = store_url(store)
    first = days_file(tmp_path / "30days.csv", 30)
    second = days_file(tmp_path / "31days.csv", 31)
    said = _race(db_url, _testing_job(first), _testing_job(second), wait=PATIENCE * 5)
    ((a_status, a_id, a_added, _),) = _one(said, "A", "ok")
    assert _one(said, "B", "waiting") == (
        "waiting for another import of cdph-daily-testing to finish…"
    )
    ((b_status, b_id, b_added, b_unchanged),) = _one(said, "B", "ok")
    assert (a_status, a_added) == ("imported", 30 * 57)
    # the second decided on what the first committed: one day added, 30 days unchanged
    assert (b_status, b_added, b_unchanged) == ("imported", 57, 30 * 57)
    log = import_history(store)
    assert [(e["id"], e["status"], e["supersedes_id"]) for e in log] == [
        (a_id, "superseded", None),
        (b_id, "current", a_id),
    ]
    assert _stored(store) == _alone(_testing_job(second))
    # the first file again is a change back, not "unchanged"
    again = run_import(store, DailyTesting(), first, allow_removals=True)
    assert (again.status, again.removed) == ("imported", 57)
    assert _stored(store) == _alone(_testing_job(first))


def test_the_same_file_twice_at_once_is_imported_once(store: Engine, tmp_path: Path) -> None:
    db_url = store_url(store)
    path = days_file(tmp_path / "30days.csv", 30)
    said = _race(db_url, _testing_job(path), _testing_job(path), wait=PATIENCE * 5)
    ((a_status, a_id, _, _),) = _one(said, "A", "ok")
    ((b_status, b_id, b_added, _),) = _one(said, "B", "ok")
    assert (a_status, b_status, b_id, b_added) == ("imported", "unchanged", a_id, 0)
    assert [(e["id"], e["status"]) for e in import_history(store)] == [(a_id, "current")]


def test_a_second_import_that_waits_too_long_is_refused_and_writes_nothing(
    store: Engine, tmp_path: Path
) -> None:
    db_url = store_url(store)
    first = days_file(tmp_path / "30days.csv", 30)
    second = days_file(tmp_path / "31days.csv", 31)
    said = _race(db_url, _testing_job(first), _testing_job(second), wait=0.2)
    ((_, a_id, _, _),) = _one(said, "A", "ok")
    kind, message = _one(said, "B", "error")
    assert kind == StoreBusy.__name__
    assert message.startswith("another import of cdph-daily-testing is still writing after 0.2 s")
    assert "nothing written" in message
    assert [(e["id"], e["status"]) for e in import_history(store)] == [(a_id, "current")]
    assert _stored(store) == _alone(_testing_job(first))


CASES = IMPORTERS["cdph-daily-cases"].default_paths(FIXTURE_DATA)[0]


def test_two_sets_of_files_at_once_end_as_one_then_the_other(store: Engine, tmp_path: Path) -> None:
    """Two ``import chicago``-like sets (testing and cases files, each set in one transaction):
    the second waits for the whole first set, then applies its own: both datasets end as the
    second set's files, never one of each."""
    db_url = store_url(store)
    first = [
        ("cdph-daily-testing", str(days_file(tmp_path / "t30.csv", 30))),
        ("cdph-daily-cases", str(days_file(tmp_path / "c30.csv", 30, CASES))),
    ]
    second = [
        ("cdph-daily-testing", str(days_file(tmp_path / "t31.csv", 31))),
        ("cdph-daily-cases", str(days_file(tmp_path / "c31.csv", 31, CASES))),
    ]
    said = _race(db_url, first, second, wait=PATIENCE * 5)
    a_done, b_done = _one(said, "A", "ok"), _one(said, "B", "ok")
    assert [r[0] for r in a_done] == ["imported", "imported"]
    # each file of the second set decided on the first set's committed rows: one day more
    assert [(r[0], r[3]) for r in b_done] == [("imported", 30 * 57), ("imported", a_done[1][2])]
    log = import_history(store)
    assert [(e["source"], e["status"]) for e in log] == [
        ("cdph-daily-testing", "superseded"),
        ("cdph-daily-cases", "superseded"),
        ("cdph-daily-testing", "current"),
        ("cdph-daily-cases", "current"),
    ]
    assert _stored(store) == _alone(second)


def test_a_set_with_a_bad_file_imports_none_of_its_files(store: Engine, tmp_path: Path) -> None:
    good = days_file(tmp_path / "t30.csv", 30)
    bad = tmp_path / "c_bad.csv"
    lines = CASES.read_text().splitlines(keepends=True)
    bad.write_text(lines[0] + lines[1].replace(",", ",x", 1))
    told: list[int] = []
    with pytest.raises(FileValidationError, match=r"c_bad\.csv"):
        import_set(
            store,
            [(IMPORTERS["cdph-daily-testing"], good), (IMPORTERS["cdph-daily-cases"], bad)],
            started=told.append,
        )
    assert told == [0, 1]  # the first was written, then rolled back with the second
    assert import_history(store) == []
    assert _stored(store) == set()


def _log_row(source: str, dataset: str, digest: str) -> dict[str, Any]:
    return {
        "source": source,
        "dataset": dataset,
        "record_type": "community_indicator",
        "file_name": f"{digest}.csv",
        "file_sha256": digest,
        "imported_by": "t",
        "imported_at": dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        "status": "current",
        "rows_in_file": 1,
        "rows_added": 1,
        "rows_changed": 0,
        "rows_removed": 0,
        "rows_unchanged": 0,
        "rows_skipped": 0,
    }


def test_migration_0010_clears_a_mixed_dataset_and_then_refuses_a_second_current_import(
    db_url: str,
) -> None:
    """A store where the race left two current imports of one dataset: after the migration
    neither is current (the next import of its file re-applies it, not "unchanged"); a dataset
    with one current import keeps it; and the database refuses a second current one."""
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0006")
        with engine.begin() as conn:
            conn.execute(
                insert(import_log),
                [
                    _log_row("cdph-daily-testing", "citywide", "a"),
                    _log_row("cdph-daily-testing", "citywide", "b"),
                    _log_row("cdph-daily-cases", "citywide", "c"),
                ],
            )
        upgrade(engine)
        assert [(e["file_sha256"], e["status"]) for e in import_history(engine)] == [
            ("a", "superseded"),
            ("b", "superseded"),
            ("c", "current"),
        ]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(import_log), [_log_row("cdph-daily-cases", "citywide", "d")])
        assert len(import_history(engine)) == 3
    finally:
        engine.dispose()


def test_a_writer_that_may_not_wait_is_refused_at_once(store: Engine) -> None:
    """``wait=0`` (``SCHOOLMODE_LOCK_WAIT=0``): refused as soon as another writer holds the
    lock (on PostgreSQL a lock_timeout of 0 would mean no limit), told first that it waits."""
    told: list[str] = []
    refused = pytest.raises(StoreBusy, match=r"another import of cdph-daily-testing is still wr")
    with writing(store, ["cdph-daily-testing"], "import"), refused:  # noqa: SIM117
        with writing(store, ["cdph-daily-testing"], "import", wait=0, on_wait=told.append):
            pytest.fail("a second writer got the lock")
    assert told == ["waiting for another import of cdph-daily-testing to finish…"]
    with writing(store, ["cdph-daily-testing"], "import", wait=0) as conn:  # free again
        assert conn.in_transaction()

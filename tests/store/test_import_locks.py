"""One writer per source (issue 12, item 4): two imports running at once in two real processes
end as "one then the other" or "the second refused", never a mix, on SQLite and PostgreSQL.

The first import stops inside its transaction (in its progress callback, after writing its
first rows) until the test lets it go; the second is started only then, and the test waits for
it to say that it waits (its ``on_wait``) before letting the first go on: the interleaving
happens every time, with no sleep.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from schoolmode.importers.cdph import DailyTesting
from schoolmode.store.db import make_engine
from schoolmode.store.locks import StoreBusy
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import import_history, run_import
from schoolmode.store.tables import RECORD_TABLES
from tests.conftest import FIXTURE_DATA

TESTING = FIXTURE_DATA / "chicago-daily-testing/COVID-19_Daily_Testing_-_By_Test.csv"
SPAWN = mp.get_context("spawn")
PATIENCE = 120.0
"""Seconds a process or the test waits for the other side before giving up (a hang, not a
measure: every wait below ends as soon as the other side has done its step)."""


def days_file(path: Path, days: int) -> Path:
    """The fixture's testing file cut to its first ``days`` days."""
    lines = TESTING.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: days + 1]))
    return path


def _held_import(url: str, path: str, holding: Event, release: Event, out: Any) -> None:
    """Import ``path``, stopping inside the transaction (after the first rows written) until
    ``release``; put ``("A", outcome...)`` on ``out``."""

    def progress(_stage: str, _done: int, _total: int) -> None:
        if not holding.is_set():
            holding.set()
            if not release.wait(PATIENCE):
                os._exit(3)  # the test went away: leave without committing

    engine = make_engine(url)
    try:
        result = run_import(engine, DailyTesting(), Path(path), progress=progress)
        out.put(("A", "ok", result.status, result.import_id, result.added, result.unchanged))
    except Exception as exc:  # reported to the test, which fails on it
        out.put(("A", "error", type(exc).__name__, str(exc)))
    finally:
        engine.dispose()


def _second_import(url: str, path: str, wait: float, waiting: Event, out: Any) -> None:
    """Import ``path`` (waiting at most ``wait`` s for the lock); put what it was told while
    waiting and its outcome on ``out``."""

    def on_wait(message: str) -> None:
        out.put(("B", "waiting", message))
        waiting.set()

    engine = make_engine(url)
    try:
        result = run_import(engine, DailyTesting(), Path(path), wait=wait, on_wait=on_wait)
        out.put(("B", "ok", result.status, result.import_id, result.added, result.unchanged))
    except Exception as exc:
        out.put(("B", "error", type(exc).__name__, str(exc)))
    finally:
        engine.dispose()


def _race(url: str, first: Path, second: Path, wait: float) -> dict[str, list[tuple[Any, ...]]]:
    """Run the two imports as described above; the messages of each process, by process."""
    out = SPAWN.Queue()
    holding, release, waiting = SPAWN.Event(), SPAWN.Event(), SPAWN.Event()
    a = SPAWN.Process(target=_held_import, args=(url, str(first), holding, release, out))
    b = SPAWN.Process(target=_second_import, args=(url, str(second), wait, waiting, out))
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


def _stored(engine: Engine) -> set[tuple[Any, ...]]:
    t = RECORD_TABLES["community_indicator"]
    with engine.connect() as conn:
        return {tuple(r) for r in conn.execute(select(t.c.date, t.c.metric, t.c.value))}


def _alone(path: Path) -> set[tuple[Any, ...]]:
    """The rows ``path`` alone stores, in a fresh SQLite store beside it."""
    solo = make_engine(f"sqlite:///{path.with_suffix('.sqlite')}")
    upgrade(solo)
    run_import(solo, DailyTesting(), path)
    rows = _stored(solo)
    solo.dispose()
    return rows


def test_two_imports_of_different_files_run_one_then_the_other(
    store: Engine, db_url: str, tmp_path: Path
) -> None:
    first = days_file(tmp_path / "30days.csv", 30)
    second = days_file(tmp_path / "31days.csv", 31)
    said = _race(db_url, first, second, wait=PATIENCE * 5)
    ((a_status, a_id, a_added, _),) = [m[1:] for m in said["A"] if m[0] == "ok"]
    (told,) = [m[1] for m in said["B"] if m[0] == "waiting"]
    assert told == "waiting for another import of cdph-daily-testing to finish…"
    ((b_status, b_id, b_added, b_unchanged),) = [m[1:] for m in said["B"] if m[0] == "ok"]
    assert (a_status, a_added) == ("imported", 30 * 57)
    # the second decided on what the first committed: one day added, 30 days unchanged
    assert (b_status, b_added, b_unchanged) == ("imported", 57, 30 * 57)
    log = import_history(store)
    assert [(e["id"], e["status"], e["supersedes_id"]) for e in log] == [
        (a_id, "superseded", None),
        (b_id, "current", a_id),
    ]
    assert _stored(store) == _alone(second)
    # the first file again is a change back, not "unchanged"
    again = run_import(store, DailyTesting(), first, allow_removals=True)
    assert (again.status, again.removed) == ("imported", 57)
    assert _stored(store) == _alone(first)


def test_the_same_file_twice_at_once_is_imported_once(
    store: Engine, db_url: str, tmp_path: Path
) -> None:
    path = days_file(tmp_path / "30days.csv", 30)
    said = _race(db_url, path, path, wait=PATIENCE * 5)
    ((a_status, a_id, _, _),) = [m[1:] for m in said["A"] if m[0] == "ok"]
    ((b_status, b_id, b_added, _),) = [m[1:] for m in said["B"] if m[0] == "ok"]
    assert (a_status, b_status, b_id, b_added) == ("imported", "unchanged", a_id, 0)
    assert [(e["id"], e["status"]) for e in import_history(store)] == [(a_id, "current")]


def test_a_second_import_that_waits_too_long_is_refused_and_writes_nothing(
    store: Engine, db_url: str, tmp_path: Path
) -> None:
    first = days_file(tmp_path / "30days.csv", 30)
    second = days_file(tmp_path / "31days.csv", 31)
    said = _race(db_url, first, second, wait=0.2)
    ((_, a_id, _, _),) = [m[1:] for m in said["A"] if m[0] == "ok"]
    ((kind, message),) = [m[1:] for m in said["B"] if m[0] == "error"]
    assert kind == StoreBusy.__name__
    assert message.startswith("another import of cdph-daily-testing is still writing after 0.2 s")
    assert "nothing written" in message
    assert [(e["id"], e["status"]) for e in import_history(store)] == [(a_id, "current")]
    assert _stored(store) == _alone(first)

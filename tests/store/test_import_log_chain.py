"""The import log in the audit hash chain (issue 13, item 6; migration 0012): each import's
entry is linked in the import's transaction, a superseding import keeps the chain intact, the
log refuses every rewrite but "current -> superseded", and 0012 links the entries of a store
made before it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from schoolmode.decisions.verify import verify
from schoolmode.importers.cdph import DailyTesting
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import RemovalRefused, run_import
from tests.store.test_import_locks import days_file


def _links(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT record_table, record_id FROM chain_link ORDER BY id"))
        return [(str(t), int(i)) for t, i in rows]


def _statuses(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT status FROM import_log ORDER BY id")).scalars())


def test_each_import_is_linked_and_a_superseding_import_keeps_the_chain_intact(
    store: Engine, tmp_path: Path
) -> None:
    first = run_import(store, DailyTesting(), days_file(tmp_path / "a.csv", 10))
    assert _links(store) == [("import_log", first.import_id)]
    again = run_import(store, DailyTesting(), tmp_path / "a.csv")
    assert again.status == "unchanged"
    assert _links(store) == [("import_log", first.import_id)]  # nothing new: no link
    second = run_import(store, DailyTesting(), days_file(tmp_path / "b.csv", 20))
    assert second.added > 0
    assert second.removed == 0
    assert _links(store) == [("import_log", first.import_id), ("import_log", second.import_id)]
    assert _statuses(store) == ["superseded", "current"]
    found = verify(store)
    assert found.problems == []
    assert found.links == 2


def test_a_refused_import_links_nothing(store: Engine, tmp_path: Path) -> None:
    run_import(store, DailyTesting(), days_file(tmp_path / "a.csv", 20))
    with pytest.raises(RemovalRefused):
        run_import(store, DailyTesting(), days_file(tmp_path / "b.csv", 10))
    assert _links(store) == [("import_log", 1)]
    assert verify(store).intact


REWRITES = {
    "another column": "UPDATE import_log SET file_name = 'forged.csv' WHERE id = 1",
    "status and another column": (
        "UPDATE import_log SET status = 'superseded', rows_added = 0 WHERE id = 1"
    ),
    "superseded back to current": "UPDATE import_log SET status = 'current' WHERE id = 1",
    "delete": "DELETE FROM import_log WHERE id = 2",
}
SQLITE_REWRITES = {
    "insert or replace": (
        "INSERT OR REPLACE INTO import_log SELECT id, source, dataset, record_type, 'x.csv', "
        "file_sha256, imported_by, imported_at, status, supersedes_id, rows_in_file, "
        "rows_added, rows_changed, rows_removed, rows_unchanged, rows_skipped, notes "
        "FROM import_log WHERE id = 2"
    ),
}
POSTGRESQL_REWRITES = {"truncate": "TRUNCATE import_log CASCADE"}


def test_the_import_log_refuses_every_rewrite_but_a_supersession(
    store: Engine, tmp_path: Path
) -> None:
    run_import(store, DailyTesting(), days_file(tmp_path / "a.csv", 10))
    run_import(store, DailyTesting(), days_file(tmp_path / "b.csv", 20))
    with store.connect() as conn:
        before = [tuple(r) for r in conn.execute(text("SELECT * FROM import_log ORDER BY id"))]
    extra = SQLITE_REWRITES if store.dialect.name == "sqlite" else POSTGRESQL_REWRITES
    for name, statement in {**REWRITES, **extra}.items():
        with pytest.raises(DBAPIError, match="import_log is append-only"), store.begin() as conn:
            conn.execute(text(statement))
        with store.connect() as conn:
            now = [tuple(r) for r in conn.execute(text("SELECT * FROM import_log ORDER BY id"))]
        assert now == before, name
    with store.connect() as conn:  # the supersession itself is allowed (rolled back here)
        changed = conn.execute(
            text("UPDATE import_log SET status = 'superseded' WHERE id = 2")
        ).rowcount
        conn.rollback()
    assert changed == 1


def test_migration_0012_links_the_earlier_entries_in_order(db_url: str, tmp_path: Path) -> None:
    """A store at 0011 with entries written before the chain knew them (one current, one left
    superseded without a successor as 0010 left a mixed dataset), then upgraded."""
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0011")
        columns = (
            "source, dataset, record_type, file_name, file_sha256, imported_by, imported_at, "
            "status, rows_in_file, rows_added, rows_changed, rows_removed, rows_unchanged, "
            "rows_skipped"
        )
        with engine.begin() as conn:
            for stamp, status, source in (
                ("2022-01-02 10:00:00", "current", "cdph-daily-testing"),
                ("2022-01-01 10:00:00", "superseded", "cdph-daily-cases"),
            ):
                conn.execute(
                    text(
                        f"INSERT INTO import_log ({columns}) VALUES (:s, 'default', "
                        "'cdph_daily_testing', 'f.csv', :d, 'tester', :t, :st, 0, 0, 0, 0, 0, 0)"
                    ),
                    {"s": source, "d": "a" * 64, "t": stamp, "st": status},
                )
        assert _links(engine) == []
        upgrade(engine)
        assert _links(engine) == [("import_log", 2), ("import_log", 1)]  # oldest first
        assert verify(engine).intact
        # the guard is on: the orphan stays superseded; the current one may be superseded
        # only by an import naming it, or verify tells
        with engine.begin() as conn:
            conn.execute(text("UPDATE import_log SET status = 'superseded' WHERE id = 1"))
        found = verify(engine)
        assert found.problems == ["link 2 (import_log 1): the record changed after it was linked"]
    finally:
        engine.dispose()

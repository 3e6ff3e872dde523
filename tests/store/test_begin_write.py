"""Write transactions on SQLite take the write lock at their start (``store.db.begin_write``).

A deferred ``BEGIN`` that reads and then writes fails at once with "database is locked" when
another connection committed in between (WAL refuses to upgrade a stale snapshot, whatever
the busy timeout): the job queue's submit (read the same request's job, then insert) failed
that way in CI while a job runner wrote. ``begin_write`` waits for the other writer instead,
and every writer of the application uses it."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, func, insert, select
from sqlalchemy.exc import OperationalError

from schoolmode.store.db import begin_write, make_engine

SRC = Path(__file__).resolve().parents[2] / "src" / "schoolmode"

rows = MetaData()
item = Table("item", rows, Column("id", Integer, primary_key=True), Column("n", Integer))


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    rows.create_all(made)
    return made


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(item)).scalar_one())


def test_a_deferred_read_then_write_fails_when_another_writer_committed(engine: Engine) -> None:
    # the failure begin_write exists for, shown on the same engine
    with engine.begin() as conn:
        conn.execute(select(func.count()).select_from(item)).scalar_one()
        with engine.begin() as other:
            other.execute(insert(item).values(n=1))
        with pytest.raises(OperationalError, match="database is locked"):
            conn.execute(insert(item).values(n=2))
    assert _count(engine) == 1


def test_begin_write_waits_for_the_other_writer(engine: Engine) -> None:
    started = threading.Event()
    failed: list[BaseException] = []

    def other_writer() -> None:
        started.set()
        try:
            with begin_write(engine) as other:
                other.execute(insert(item).values(n=1))
        except BaseException as exc:  # reported by the assertion below
            failed.append(exc)

    with begin_write(engine) as conn:
        seen = conn.execute(select(func.count()).select_from(item)).scalar_one()
        thread = threading.Thread(target=other_writer)
        thread.start()
        started.wait()
        thread.join(0.5)  # it cannot commit while this transaction holds the write lock
        assert thread.is_alive()
        conn.execute(insert(item).values(n=seen + 2))
    thread.join()
    assert failed == []
    with engine.connect() as conn:
        assert sorted(conn.execute(select(item.c.n)).scalars()) == [1, 2]


def test_every_writer_of_the_application_uses_begin_write() -> None:
    # the store's own machinery (migrations, database roles on PostgreSQL, the import locks)
    # opens its transactions itself
    own = {"store/db.py", "store/locks.py", "store/migrate.py", "store/privileges.py"}
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        if path.relative_to(SRC).as_posix() not in own and "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"engine\.begin\(\)", line)
    ]
    assert found == []

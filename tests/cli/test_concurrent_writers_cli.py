"""Two writers at once, the second a real ``schoolmode`` command (issue 12, item 4), on SQLite
and PostgreSQL: it says on stderr that it waits and then does its work on what the first
committed, or, past ``SCHOOLMODE_LOCK_WAIT``, is refused with a clear error (exit non-zero, no
traceback, nothing written).

The first writer is a process stopped inside its transaction until the test lets it go; the
test lets it go only once the command has said that it waits (read from its stderr), so the
interleaving happens every time, with no sleep.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from schoolmode.app.context import open_context
from schoolmode.importers.staff import AccommodationRequests
from schoolmode.operations import accommodations as acc
from schoolmode.operations import accommodations_store as acc_store
from schoolmode.policy.loader import Registry
from schoolmode.store.service import import_history, run_import
from schoolmode.store.tables import accommodation_decision, accommodation_review
from tests.conftest import POLICIES, store_url
from tests.store.test_import_locks import PATIENCE, SPAWN, days_file, held_import

SCHOOLMODE = str(Path(sys.executable).with_name("schoolmode"))
DAY = dt.date(2021, 2, 5)
LBFO = "cps-lbfo-2021-02-04"


@contextmanager
def _first_writer(target: Any, *args: Any) -> Iterator[tuple[Event, Any]]:
    """Start ``target(*args, holding, release, out)`` and wait until it holds its lock; yields
    ``(release, out)``; the process is joined (or killed) afterwards."""
    out = SPAWN.Queue()
    holding, release = SPAWN.Event(), SPAWN.Event()
    process = SPAWN.Process(target=target, args=(*args, holding, release, out))
    process.start()
    try:
        assert holding.wait(PATIENCE), "the first writer never took its lock"
        yield release, out
        release.set()
        process.join(PATIENCE)
        assert process.exitcode == 0
    finally:
        release.set()
        if process.is_alive():
            process.kill()


def _command(args: list[str], wait: float) -> subprocess.Popen[str]:
    env = {**os.environ, "SCHOOLMODE_LOCK_WAIT": str(wait), "PYTHONIOENCODING": "utf-8"}
    return subprocess.Popen(
        [SCHOOLMODE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=env,
    )


def _said_it_waits(command: subprocess.Popen[str], waiting: str) -> list[str]:
    """The command's stderr lines up to the one saying ``waiting`` (which must come)."""
    assert command.stderr is not None
    lines: list[str] = []
    while not any(waiting in line for line in lines):
        line = command.stderr.readline()
        assert line, f"the command ended without waiting: {lines}"
        lines.append(line)
    return lines


def _finish(command: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = command.communicate(timeout=PATIENCE)
    return command.returncode, out, err


def test_a_second_import_command_waits_then_imports_on_what_the_first_committed(
    store: Engine, tmp_path: Path
) -> None:
    db_url = store_url(store)
    first = [("cdph-daily-testing", str(days_file(tmp_path / "30days.csv", 30)))]
    second = days_file(tmp_path / "31days.csv", 31)
    with _first_writer(held_import, db_url, first) as (release, _):
        command = _command(
            ["import", "cdph-daily-testing", str(second), "--db", db_url], PATIENCE * 5
        )
        told = _said_it_waits(command, "waiting for another import of cdph-daily-testing")
        release.set()
        code, out, err = _finish(command)
    assert code == 0, err
    assert "Traceback" not in "".join(told) + err
    # decided after the lock: the first file's 30 days were there, one day was added
    assert "import #2: 1767 rows, 57 added, 0 changed, 0 removed, 1710 unchanged" in out
    assert [(e["id"], e["status"]) for e in import_history(store)] == [
        (1, "superseded"),
        (2, "current"),
    ]


def test_a_second_import_command_is_refused_after_the_wait_and_writes_nothing(
    store: Engine, tmp_path: Path
) -> None:
    db_url = store_url(store)
    first = [("cdph-daily-testing", str(days_file(tmp_path / "30days.csv", 30)))]
    second = days_file(tmp_path / "31days.csv", 31)
    with _first_writer(held_import, db_url, first):
        command = _command(["import", "cdph-daily-testing", str(second), "--db", db_url], 0.2)
        _said_it_waits(command, "waiting for another import of cdph-daily-testing")
        code, out, err = _finish(command)  # while the first still holds the lock
    assert code == 1
    assert "another import of cdph-daily-testing is still writing after 0.2 s; nothing " in err
    assert "Traceback" not in err
    assert "import #" not in out
    assert [(e["id"], e["status"]) for e in import_history(store)] == [(1, "current")]


NONCE = "5" * 32
"""The nonce of the tests' commitment (seed 2): both reviews reveal it."""


def held_review(url: str, holding: Event, release: Event, out: Any) -> None:
    """A review revealing the day's commitment (seed 2), stopped after recording its decisions
    and before its commit until ``release``."""
    with open_context(db_url=url, policies_dir=POLICIES) as ctx:
        policy = ctx.registry.get(LBFO).policy
        with acc_store.reviewing(ctx.engine) as conn:
            committed = acc_store.open_commitment(conn, DAY)
            pending = acc_store.pending_requests(conn)
            selection = acc.select(pending, policy, DAY, 2, acc_store.prior_decisions(conn))
            review_id = acc_store.record_review(
                conn, selection, policy, DAY, "a", None, (committed["id"], NONCE)
            )
            holding.set()
            if not release.wait(PATIENCE):
                os._exit(3)  # the test went away: leave without committing
    out.put((review_id, selection.decisions.height))


def _requests(store: Engine, tmp_path: Path) -> None:
    """40 pending requests, and the day's lottery committed (seed 2, nonce ``NONCE``)."""
    rows = [f"H{i},P{i},household_high_risk,2021-02-01,pending" for i in range(36)]
    rows += [f"O{i},Q{i},own_high_risk,2021-02-01,pending" for i in range(4)]
    path = tmp_path / "requests.csv"
    path.write_text("request_id,person_id,basis,requested_date,status\n" + "\n".join(rows))
    run_import(store, AccommodationRequests(), path)
    policy = Registry(POLICIES).get(LBFO).policy
    with acc_store.reviewing(store) as conn:
        found = acc.quotas(acc_store.pending_requests(conn), policy, DAY)
        pool = found.eligible["request_id"].to_list()
        digest = acc.commitment_digest(2, NONCE)
        rules = acc.quota_rules(found)
        acc_store.record_commitment(conn, DAY, policy, {}, rules, pool, digest, "a")


def _review_args(db_url: str) -> list[str]:
    return [
        "accommodations", "review", "--on", DAY.isoformat(), "--seed", "2", "--nonce", NONCE,
        "--by", "b", "--json", "--db", db_url, "--policies-dir", str(POLICIES),
    ]  # fmt: skip


def _decisions_per_request(store: Engine) -> dict[str, int]:
    d = accommodation_decision
    with store.connect() as conn:
        rows = conn.execute(select(d.c.request_id, func.count()).group_by(d.c.request_id))
        return {str(request): int(count) for request, count in rows}


def test_two_reviews_at_once_decide_each_request_once(store: Engine, tmp_path: Path) -> None:
    db_url = store_url(store)
    _requests(store, tmp_path)
    with _first_writer(held_review, db_url) as (release, out):
        command = _command(_review_args(db_url), PATIENCE * 5)
        _said_it_waits(command, "waiting for another review or import of accommodation-")
        release.set()
        code, printed, err = _finish(command)
        first_id, first_decided = out.get(timeout=PATIENCE)
    assert code == 2, err
    assert "Traceback" not in printed + err
    assert first_decided == 40
    # the second waited, then found the commitment revealed by the first: refused
    assert f"was revealed by review {first_id}" in printed + err
    decided = _decisions_per_request(store)
    assert (len(decided), set(decided.values())) == (40, {1})  # every request, once
    with store.connect() as conn:
        reviews = conn.execute(select(accommodation_review.c.id).order_by("id")).scalars().all()
    assert reviews == [first_id]


def test_a_second_review_refused_after_the_wait_records_nothing(
    store: Engine, tmp_path: Path
) -> None:
    db_url = store_url(store)
    _requests(store, tmp_path)
    with _first_writer(held_review, db_url):
        command = _command(_review_args(db_url), 0.2)
        _said_it_waits(command, "waiting for another review or import of accommodation-")
        code, printed, err = _finish(command)
    assert code == 5  # the store is locked by another writer (docs/exit-codes.md)
    assert "another review or import of accommodation-" in printed + err
    assert "nothing written" in printed + err
    assert "Traceback" not in printed + err
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(accommodation_review)).scalar() == 1
    assert set(_decisions_per_request(store).values()) == {1}

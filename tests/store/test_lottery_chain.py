"""The accommodation lottery's seed commitments in the audit hash chain (issue 13, item 6;
migration 0016): each commitment is linked in the transaction that records it, the table
refuses every rewrite, and with its guards switched off (as the database's owner could) each
rewrite, deletion or insertion by SQL is named by ``audit verify``; 0016 links the commitments
of a store made before it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from schoolmode.decisions.verify import verify
from schoolmode.operations import accommodations as acc
from schoolmode.operations import accommodations_store as acc_store
from schoolmode.policy.loader import Registry
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade

ON = dt.date(2021, 2, 5)
LBFO = "cps-lbfo-2021-02-04"
COLUMNS = (
    "id, on_date, policy_id, settings_json, rules_json, pool_sha256, pool_size, "
    "commitment_sha256, created_at, created_by"
)


def _commit(store: Engine, registry: Registry, seed: int) -> int:
    """A commitment of an empty pool for ``ON`` (the pool does not matter to the chain)."""
    lbfo = registry.get(LBFO).policy
    with acc_store.reviewing(store) as conn:
        digest = acc.commitment_digest(seed, "ab" * 16)
        return acc_store.record_commitment(conn, ON, lbfo, {}, {}, [], digest, "hr")


def _links(engine: Engine) -> list[tuple[int, str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, record_table, record_id FROM chain_link ORDER BY id"))
        return [(int(i), str(t), int(r)) for i, t, r in rows]


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM lottery_commitment"))]


@pytest.fixture
def committed(store: Engine, registry: Registry) -> Engine:
    """The store with five commitments, each linked (link ``n`` is commitment ``n``)."""
    assert [_commit(store, registry, seed) for seed in range(1, 6)] == [1, 2, 3, 4, 5]
    assert _links(store) == [(n, "lottery_commitment", n) for n in range(1, 6)]
    assert verify(store).intact
    return store


def _values(commitment: int, digest: str = "commitment_sha256", by: str = "created_by") -> str:
    return (
        f"SELECT id, on_date, policy_id, settings_json, rules_json, pool_sha256, pool_size, "
        f"{digest}, created_at, {by} FROM lottery_commitment WHERE id = {commitment}"
    )


def _replace(engine: Engine) -> str:
    """Commitment 2 rewritten by an insertion: REPLACE on SQLite, an upsert on PostgreSQL."""
    forged = _values(2, digest="'" + "f" * 64 + "'")
    if engine.dialect.name == "sqlite":
        return f"INSERT OR REPLACE INTO lottery_commitment ({COLUMNS}) {forged}"
    return (
        f"INSERT INTO lottery_commitment ({COLUMNS}) {forged} "
        "ON CONFLICT (id) DO UPDATE SET commitment_sha256 = EXCLUDED.commitment_sha256"
    )


def _truncate(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":  # no TRUNCATE: its DELETE without WHERE
        return "DELETE FROM lottery_commitment"
    return "TRUNCATE lottery_commitment"


REWRITES: dict[str, Callable[[Engine], str]] = {
    "update": lambda e: (
        "UPDATE lottery_commitment SET commitment_sha256 = '" + "0" * 64 + "' WHERE id = 1"
    ),
    "insert or replace": _replace,
    "upsert": lambda e: (
        f"INSERT INTO lottery_commitment ({COLUMNS}) {_values(3, by=repr('forger'))} "
        "ON CONFLICT (id) DO UPDATE SET created_by = 'forger'"
    ),
    "delete": lambda e: "DELETE FROM lottery_commitment WHERE id = 4",
    "added by SQL": lambda e: (
        f"INSERT INTO lottery_commitment ({COLUMNS}) "
        + _values(5, digest="'" + "e" * 64 + "'").replace("SELECT id,", "SELECT 6,", 1)
    ),
    "truncate": _truncate,
}
"""Each rewrite, in the order the tampering test applies them (each to its own commitment)."""

DETECTED = {
    "update": ["link 1 (lottery_commitment 1): the record changed after it was linked"],
    "insert or replace": ["link 2 (lottery_commitment 2): the record changed after it was linked"],
    "upsert": ["link 3 (lottery_commitment 3): the record changed after it was linked"],
    "delete": ["link 4 (lottery_commitment 4): the record is gone (deleted)"],
    "added by SQL": ["lottery_commitment 6 has no link: added outside schoolmode"],
    "truncate": [
        f"link {n} (lottery_commitment {n}): the record is gone (deleted)" for n in (1, 2, 3, 5)
    ],
}
"""What ``audit verify`` newly names after each rewrite (the guards switched off)."""


def test_every_rewrite_of_a_commitment_is_refused(committed: Engine) -> None:
    before = _rows(committed)
    for name, statement in REWRITES.items():
        if name == "added by SQL":  # an insertion is allowed: only the chain tells
            continue
        with (
            pytest.raises(DBAPIError, match="lottery_commitment is append-only"),
            committed.begin() as conn,
        ):
            conn.execute(text(statement(committed)))
        assert _rows(committed) == before, name
    assert verify(committed).intact


def _unguarded(engine: Engine) -> None:
    """Switch off the table's append-only guards, as the database's owner could."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for action in ("update", "delete"):
                conn.execute(text(f"DROP TRIGGER lottery_commitment_no_{action}"))
        else:
            conn.execute(text("ALTER TABLE lottery_commitment DISABLE TRIGGER USER"))


def test_audit_verify_names_each_rewrite_done_without_the_guards(committed: Engine) -> None:
    _unguarded(committed)
    seen: list[str] = []
    for name, statement in REWRITES.items():
        with committed.begin() as conn:
            conn.execute(text(statement(committed)))
        found = verify(committed).problems
        assert [p for p in found if p not in seen] == DETECTED[name], name
        seen = found
    assert seen[0] == "link 1 (lottery_commitment 1): the record is gone (deleted)"


def test_migration_0016_links_the_earlier_commitments_in_order(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0015")
        with engine.begin() as conn:
            for stamp, digest in (("2021-02-05 10:00:00", "a"), ("2021-02-04 10:00:00", "b")):
                conn.execute(
                    text(
                        f"INSERT INTO lottery_commitment ({COLUMNS}) VALUES (DEFAULT, "
                        "'2021-02-05', :p, '{}', '{}', :pool, 0, :d, :t, 'hr')"
                        if engine.dialect.name == "postgresql"
                        else f"INSERT INTO lottery_commitment ({COLUMNS}) VALUES (NULL, "
                        "'2021-02-05', :p, '{}', '{}', :pool, 0, :d, :t, 'hr')"
                    ),
                    {"p": LBFO, "pool": "0" * 64, "d": digest * 64, "t": stamp},
                )
        assert _links(engine) == []
        upgrade(engine)
        assert _links(engine) == [(1, "lottery_commitment", 2), (2, "lottery_commitment", 1)]
        assert verify(engine).intact
    finally:
        engine.dispose()

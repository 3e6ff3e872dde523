"""Append-only guards: the DDL the migrations run is pinned, and every guard is removed on
downgrade."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from schoolmode.store.migrate import alembic_config
from schoolmode.store.triggers import (
    append_only_ddl,
    drop_append_only_ddl,
    drop_no_truncate_ddl,
    no_truncate_ddl,
)

# tables made append-only by migrations 0002-0005, 0007, 0009, 0013, 0017, 0019, 0020, 0021 and 0023 (their
# APPEND_ONLY tuples)
GUARDED = (
    "decision_run",
    "decision",
    "authorisation",
    "accommodation_review",
    "accommodation_decision",
    "accommodation_appeal",
    "vaccination_schedule_run",
    "vaccination_appointment",
    "screening_plan",
    "screening_pool_member",
    "screening_result",
    "trace_run",
    "traced_contact",
    "traced_order",
    "trace_exception",
    "outbreak_confirmation",
    "access_log",
    "chain_link",
    "lottery_commitment",
    "public_release",
    "public_release_table",
    "public_release_input",
    "alert_delivery",
    "refusal",
    "concern",
    "concern_event",
    "evidence",
)


def test_ddl_is_pinned() -> None:
    # old migrations run these statements: they must never change
    assert append_only_ddl("sqlite", ["t"]) == [
        "CREATE TRIGGER t_no_update BEFORE UPDATE ON t "
        "BEGIN SELECT RAISE(ABORT, 't is append-only: records are never changed'); END",
        "CREATE TRIGGER t_no_delete BEFORE DELETE ON t "
        "BEGIN SELECT RAISE(ABORT, 't is append-only: records are never changed'); END",
    ]
    assert append_only_ddl("postgresql", ["t"]) == [
        "CREATE OR REPLACE FUNCTION t_append_only() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 't is append-only: records are never changed'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER t_append_only BEFORE UPDATE OR DELETE ON t "
        "FOR EACH ROW EXECUTE FUNCTION t_append_only()",
    ]
    assert drop_append_only_ddl("sqlite", ["t"]) == [
        "DROP TRIGGER IF EXISTS t_no_update",
        "DROP TRIGGER IF EXISTS t_no_delete",
    ]
    assert drop_append_only_ddl("postgresql", ["t"]) == [
        "DROP TRIGGER IF EXISTS t_append_only ON t",
        "DROP FUNCTION IF EXISTS t_append_only()",
    ]
    assert append_only_ddl("mysql", ["t"]) == drop_append_only_ddl("mysql", ["t"]) == []
    assert no_truncate_ddl("postgresql", ["t"]) == [
        "CREATE TRIGGER t_no_truncate BEFORE TRUNCATE ON t "
        "FOR EACH STATEMENT EXECUTE FUNCTION t_append_only()"
    ]
    assert drop_no_truncate_ddl("postgresql", ["t"]) == [
        "DROP TRIGGER IF EXISTS t_no_truncate ON t"
    ]
    assert no_truncate_ddl("sqlite", ["t"]) == drop_no_truncate_ddl("sqlite", ["t"]) == []


def _guards(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        else:
            sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        return set(conn.execute(text(sql)).scalars())


def _expected(dialect: str) -> set[str]:
    if dialect == "sqlite":
        return {f"{t}_no_{a}" for t in GUARDED for a in ("update", "delete")}
    return {f"{t}_{g}" for t in GUARDED for g in ("append_only", "no_truncate")}


def test_every_audit_table_is_guarded_and_downgrade_removes_the_guards(store: Engine) -> None:
    dialect = store.dialect.name
    assert _guards(store) >= _expected(dialect)
    cfg = alembic_config()
    with store.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert _guards(store) == set()


def _authorisation(conn: object, reason: str) -> None:
    conn.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO authorisation (id, policy_id, rule, scope, unit, date, decided_by, "
            "reason, recorded_at, recorded_by) VALUES (1, 'p', 'r', 'school', 'u', "
            "'2022-01-20', 'CPS Tactical Team', :reason, '2022-01-20 10:00:00', 'tester')"
        ),
        {"reason": reason},
    )


REWRITES = {
    "update": "UPDATE authorisation SET reason = 'forged' WHERE id = 1",
    "delete": "DELETE FROM authorisation WHERE id = 1",
    "delete all": "DELETE FROM authorisation",
    "upsert": (
        "INSERT INTO authorisation (id, policy_id, rule, scope, unit, date, decided_by, reason, "
        "recorded_at, recorded_by) VALUES (1, 'p', 'r', 'school', 'u', '2022-01-20', 'x', "
        "'forged', '2022-01-20 10:00:00', 'x') ON CONFLICT (id) DO UPDATE SET reason = 'forged'"
    ),
}
SQLITE_REWRITES = {
    "insert or replace": (
        "INSERT OR REPLACE INTO authorisation (id, policy_id, rule, scope, unit, date, "
        "decided_by, reason, recorded_at, recorded_by) VALUES (1, 'p', 'r', 'school', 'u', "
        "'2022-01-20', 'x', 'forged', '2022-01-20 10:00:00', 'x')"
    ),
    "replace": (
        "REPLACE INTO authorisation (id, policy_id, rule, scope, unit, date, decided_by, reason, "
        "recorded_at, recorded_by) VALUES (1, 'p', 'r', 'school', 'u', '2022-01-20', 'x', "
        "'forged', '2022-01-20 10:00:00', 'x')"
    ),
}
POSTGRESQL_REWRITES = {
    "truncate": "TRUNCATE authorisation",
    "truncate cascade": "TRUNCATE authorisation CASCADE",
}


def test_an_audit_row_cannot_be_rewritten_by_any_statement(store: Engine) -> None:
    with store.begin() as conn:
        _authorisation(conn, "the original reason")
    extra = SQLITE_REWRITES if store.dialect.name == "sqlite" else POSTGRESQL_REWRITES
    for name, statement in {**REWRITES, **extra}.items():
        with pytest.raises(DBAPIError, match="append-only"), store.begin() as conn:
            conn.execute(text(statement))
        with store.connect() as conn:
            rows = conn.execute(text("SELECT id, reason, decided_by FROM authorisation")).all()
        assert [tuple(r) for r in rows] == [(1, "the original reason", "CPS Tactical Team")], name

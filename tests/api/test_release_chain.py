"""Public releases are append-only and links of the audit hash chain (issue 13, item 6): a
release refuses every rewrite, and with its guards switched off (as the database's owner
could) a published table rewritten, a release deleted, or a release added by SQL is named by
``audit verify``, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from schoolmode.decisions.verify import verify
from tests.api.conftest import Api


def _first(engine: Engine, kind: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT min(id) FROM public_release WHERE kind = :k"), {"k": kind}
            ).scalar_one()
        )


def _unguarded(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("public_release", "public_release_table", "public_release_input"):
            if engine.dialect.name == "sqlite":
                for action in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER {table}_no_{action}"))
            else:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))


def test_a_release_refuses_every_rewrite(api: Api) -> None:
    engine = api.engine
    week = _first(engine, "week")
    for statement in (
        f"UPDATE public_release SET hidden = 0 WHERE id = {week}",
        f"DELETE FROM public_release_table WHERE release_id = {week}",
        "DELETE FROM public_release_table"
        if engine.dialect.name == "sqlite"
        else "TRUNCATE public_release_table",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert verify(engine).intact


def test_audit_verify_names_a_rewritten_deleted_or_forged_release(api: Api) -> None:
    engine = api.engine
    assert verify(engine).intact
    _unguarded(engine)
    week, day = _first(engine, "week"), _first(engine, "day")
    with engine.begin() as conn:  # a published table replaced by another (the day's)
        blob = conn.execute(
            text("SELECT content FROM public_release_table WHERE release_id = :d"), {"d": day}
        ).first()
        assert blob is not None
        conn.execute(
            text(
                "UPDATE public_release_table SET content = :c "
                "WHERE release_id = :w AND name = 'school_week'"
            ),
            {"c": blob[0], "w": week},
        )
    problems = verify(engine).problems
    assert any(f"(public_release {week})" in p and "changed" in p for p in problems), problems
    with engine.begin() as conn:
        for table in ("public_release_table", "public_release_input"):
            conn.execute(text(f"DELETE FROM {table} WHERE release_id = :d"), {"d": day})
        conn.execute(text("DELETE FROM public_release WHERE id = :d"), {"d": day})
        conn.execute(
            text(
                "INSERT INTO public_release (kind, period_start, period_end, rule_id, "
                "data_version, inputs_sha256, published_sha256, cells, hidden, notes, "
                "software_version, created_at, created_by) SELECT kind, period_start, "
                "period_end, rule_id, data_version, inputs_sha256, published_sha256, cells, 0, "
                "notes, software_version, created_at, 'forger' FROM public_release "
                "WHERE id = :w"
            ),
            {"w": week},
        )
    problems = verify(engine).problems
    assert any(f"(public_release {day})" in p and "gone" in p for p in problems), problems
    assert any(p.startswith("public_release ") and "no link" in p for p in problems), problems

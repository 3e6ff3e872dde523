"""``audit verify``: the hash chain over decision runs, authorisations, the access log and the
import log, and every input snapshot, detect each tampering (as someone with the database's owner rights
would do it: the append-only guards switched off first), naming the first broken link."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from schoolmode.access.log import Action, record_access
from schoolmode.access.roles import Principal, Role
from schoolmode.cli.app import app
from schoolmode.decisions.answers import authorise, refuse
from schoolmode.decisions.record import decide
from schoolmode.decisions.verify import verify
from schoolmode.policy.loader import Registry
from schoolmode.store.chain import GENESIS, chain_head, link_digest, record_digest
from schoolmode.store.db import make_engine
from tests.conftest import (
    BACKENDS,
    _drop_pg_database,
    _fresh_pg_database,
    copy_history,
    pg_admin_url,
)
from tests.decisions.test_decide_window import fill_district_store
from tests.synth.test_observations import SCHOOLS

DAYS = (dt.date(2022, 2, 9), dt.date(2022, 2, 10), dt.date(2022, 2, 11))
POLICY = "cps-ctu-2022-01-10"
SCHOOL = str(SCHOOLS["school_id"][0])
IMPORTS = 14
"""Files ``fill_district_store`` imports (2 CDPH series, 12 standard files): the first links."""
LINKS = IMPORTS + 3 + 1 + 1 + 2


@pytest.fixture(scope="module", params=BACKENDS)
def template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(backend, where): a store with the tiny district (``IMPORTS`` imported files), three
    decision runs, an authorisation, a refusal and two access-log events, all linked; never opened by a test (each takes a copy)."""
    directory = tmp_path_factory.mktemp("verify")
    if request.param == "sqlite":
        url, pg = f"sqlite:///{directory / 'store.sqlite'}", None
    else:
        admin, name = _fresh_pg_database()
        url, pg = make_url(admin).set(database=name).render_as_string(False), (admin, name)
    engine = make_engine(url)
    try:
        fill_district_store(engine, directory)
        loaded = Registry().get(POLICY)
        for day in DAYS:
            decide(engine, loaded, day, created_by="tests")
        authorise(engine, loaded, "teacher-absences", SCHOOL, DAYS[1], "CPS Tactical Team", "why")
        refuse(engine, loaded, "teacher-absences", SCHOOL, DAYS[2], "CPS Tactical Team", "staffed")
        who = Principal("hr", Role.hr)
        for rows in (3, 4):
            record_access(engine, who, Action.read, "GET", "/api/v1/accommodations", {}, 200, rows)
    finally:
        engine.dispose()
    try:
        yield (request.param, str(directory / "store.sqlite") if pg is None else pg[1])
    finally:
        if pg is not None:
            _drop_pg_database(*pg)


@pytest.fixture
def store(template: tuple[str, str], tmp_path: Path) -> Iterator[Engine]:
    """The test's own copy of the template store."""
    kind, where = template
    if kind == "sqlite":
        engine = make_engine(copy_history(Path(where), tmp_path))
        yield engine
        engine.dispose()
        return
    admin = make_url(pg_admin_url()).set(drivername="postgresql+psycopg").render_as_string(False)
    name = f"sm_test_{uuid.uuid4().hex[:12]}"
    server = create_engine(admin, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{where}"'))
    server.dispose()
    engine = make_engine(make_url(admin).set(database=name).render_as_string(False))
    yield engine
    engine.dispose()
    _drop_pg_database(admin, name)


def _unguarded(engine: Engine, *tables: str) -> None:
    """Switch off the append-only guards of ``tables``, as the database's owner could."""
    with engine.begin() as conn:
        for table in tables:
            if engine.dialect.name == "sqlite":
                for action in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
            else:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))


def _sql(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _run_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM decision_run ORDER BY id")).scalars())


def test_an_untouched_store_is_intact(store: Engine) -> None:
    found = verify(store)
    assert found.problems == []
    assert found.links == LINKS
    assert found.snapshots == 3
    assert found.head == chain_head(store).head
    assert found.render().startswith(f"intact: {LINKS} links, head ")
    with store.connect() as conn:
        tables = conn.execute(text("SELECT record_table FROM chain_link ORDER BY id")).scalars()
        assert list(tables)[:IMPORTS] == ["import_log"] * IMPORTS


def _changed_decision(engine: Engine) -> None:
    _unguarded(engine, "decision")
    run = _run_ids(engine)[1]
    _sql(
        engine,
        f"UPDATE decision SET status = 'remote' WHERE id = (SELECT min(id) FROM decision "
        f"WHERE run_id = {run} AND status <> 'remote')",
    )


def _deleted_run(engine: Engine) -> None:
    _unguarded(engine, "decision", "decision_run")
    run = _run_ids(engine)[1]
    _sql(
        engine,
        f"DELETE FROM decision WHERE run_id = {run}",
        f"DELETE FROM decision_run WHERE id = {run}",
    )


def _deleted_run_and_link(engine: Engine) -> None:
    _deleted_run(engine)
    _unguarded(engine, "chain_link")
    run = _run_ids(engine)[0] + 1
    _sql(
        engine, f"DELETE FROM chain_link WHERE record_table = 'decision_run' AND record_id = {run}"
    )


def _unlinked_authorisation(engine: Engine) -> None:
    _sql(
        engine,
        "INSERT INTO authorisation (policy_id, rule, scope, unit, date, decided_by, reason, "
        f"recorded_at, recorded_by) VALUES ('{POLICY}', 'teacher-absences', 'school', "
        f"'{SCHOOL}', '2022-02-11', 'CPS Tactical Team', 'forged', '2022-02-11 08:00:00', 'x')",
    )


def _rewritten_refusal(engine: Engine) -> None:
    _unguarded(engine, "refusal")
    _sql(engine, "UPDATE refusal SET reason = 'the union agreed' WHERE id = 1")


def _unlinked_refusal(engine: Engine) -> None:
    _sql(
        engine,
        "INSERT INTO refusal (policy_id, rule, scope, unit, date, decided_by, reason, "
        f"recorded_at, recorded_by) VALUES ('{POLICY}', 'teacher-absences', 'school', "
        f"'{SCHOOL}', '2022-02-11', 'CPS Tactical Team', 'forged', '2022-02-11 08:00:00', 'x')",
    )


def _swapped_snapshot(engine: Engine) -> None:
    _unguarded(engine, "decision_run")
    first, second = _run_ids(engine)[:2]
    _sql(
        engine,
        f"UPDATE decision_run SET inputs_parquet = (SELECT inputs_parquet FROM decision_run "
        f"WHERE id = {first}) WHERE id = {second}",
    )


def _altered_access_event(engine: Engine) -> None:
    _unguarded(engine, "access_log")
    _sql(engine, "UPDATE access_log SET rows = 0 WHERE id = (SELECT min(id) FROM access_log)")


def _altered_link(engine: Engine) -> None:
    _unguarded(engine, "chain_link")
    _sql(
        engine,
        "UPDATE chain_link SET content_sha256 = '" + "f" * 64 + f"' WHERE id = {IMPORTS + 2}",
    )


def _rewritten_import(engine: Engine) -> None:
    _unguarded(engine, "import_log")
    _sql(engine, "UPDATE import_log SET file_sha256 = '" + "0" * 64 + "' WHERE id = 2")


def _deleted_import(engine: Engine) -> None:
    """The last import's entry deleted with its records (their foreign key names it)."""
    _unguarded(engine, "import_log")
    with engine.begin() as conn:
        import_id, record_type = conn.execute(
            text("SELECT id, record_type FROM import_log ORDER BY id DESC LIMIT 1")
        ).one()
        conn.execute(text(f"DELETE FROM {record_type} WHERE import_id = {import_id}"))
        conn.execute(text(f"DELETE FROM import_log WHERE id = {import_id}"))


def _forged_import_digest(engine: Engine) -> None:
    """An import-log entry rewritten and its link's content digest forged to match it."""
    _rewritten_import(engine)
    _unguarded(engine, "chain_link")
    with engine.begin() as conn:
        forged = record_digest(conn, "import_log", 2)
        conn.execute(
            text(
                "UPDATE chain_link SET content_sha256 = :c "
                "WHERE record_table = 'import_log' AND record_id = 2"
            ),
            {"c": forged},
        )


def _import_marked_superseded(engine: Engine) -> None:
    """A current entry marked superseded with no import superseding it: the one update its
    guard lets through (guard on), so only its link can tell."""
    _sql(engine, "UPDATE import_log SET status = 'superseded' WHERE id = 3")


TAMPERINGS: dict[str, tuple[Callable[[Engine], None], str]] = {
    "a decision's status rewritten": (_changed_decision, "(decision_run 2): the record changed"),
    "a run and its decisions deleted": (_deleted_run, "(decision_run 2): the record is gone"),
    "a run deleted with its link": (
        _deleted_run_and_link,
        "(decision_run 3) does not follow the link before it: a link was removed",
    ),
    "an authorisation added by SQL": (_unlinked_authorisation, "authorisation 2 has no link"),
    "a refusal's reason rewritten": (_rewritten_refusal, "(refusal 1): the record changed"),
    "a refusal added by SQL": (_unlinked_refusal, "refusal 2 has no link"),
    "an input snapshot swapped": (
        _swapped_snapshot,
        "decision run 2: its input snapshot does not match its digest",
    ),
    "an access-log event altered": (_altered_access_event, "(access_log 1): the record changed"),
    "a link altered": (_altered_link, "(decision_run 2) was altered"),
    "an import-log entry rewritten": (_rewritten_import, "link 2 (import_log 2): the record chan"),
    "an import-log entry deleted": (
        _deleted_import,
        f"link {IMPORTS} (import_log {IMPORTS}): the record is gone",
    ),
    "an import's link digest forged": (
        _forged_import_digest,
        "link 2 (import_log 2) was altered: its digest does not match its content",
    ),
    "an import marked superseded by SQL": (
        _import_marked_superseded,
        "link 3 (import_log 3): the record changed after it was linked",
    ),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_each_tampering_is_detected(store: Engine, name: str) -> None:
    tamper, expected = TAMPERINGS[name]
    tamper(store)
    found = verify(store)
    assert not found.intact
    assert any(expected in p for p in found.problems), found.problems


def test_a_coherently_rewritten_history_is_caught_by_a_published_head(store: Engine) -> None:
    published = chain_head(store).head
    assert published is not None
    # rewrite a decision, then recompute every link from it on, as a forger with full rights
    _changed_decision(store)
    _unguarded(store, "chain_link")

    with store.begin() as conn:
        links = conn.execute(
            text("SELECT id, record_table, record_id FROM chain_link ORDER BY id")
        ).all()
        conn.execute(text("DELETE FROM chain_link"))
        prev = GENESIS
        for link_id, table, record_id in links:
            content = record_digest(conn, table, record_id)
            digest = link_digest(prev, table, record_id, content or "")
            conn.execute(
                text(
                    "INSERT INTO chain_link (id, record_table, record_id, content_sha256, "
                    "prev_sha256, link_sha256, linked_at) VALUES (:i, :t, :r, :c, :p, :l, "
                    "'2022-02-12 00:00:00')"
                ),
                {"i": link_id, "t": table, "r": record_id, "c": content, "p": prev, "l": digest},
            )
            prev = digest
    assert verify(store).intact  # consistent on its own ...
    found = verify(store, published)  # ... but not with what was published
    assert found.problems == [
        f"the published head {published} is not in the chain: its history was rewritten"
    ]


def test_audit_verify_from_the_command_line(store: Engine) -> None:
    url = store.url.render_as_string(hide_password=False)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--db", url])
    assert ok.exit_code == 0, ok.output
    assert f"intact: {LINKS} links" in ok.output
    head = runner.invoke(app, ["audit", "head", "--db", url])
    assert f"({LINKS} links," in head.output
    _altered_access_event(store)
    broken = runner.invoke(app, ["audit", "verify", "--db", url])
    assert broken.exit_code == 1
    assert (
        f"BROKEN:\n- link {LINKS - 1} (access_log 1): the record changed after it was linked"
        in broken.output
    )

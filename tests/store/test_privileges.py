"""The application's PostgreSQL role (``schoolmode db grant ROLE``): it works the store (a
decision run, an authorisation, an account, the access log) and cannot truncate, alter, drop
a guard of, or rewrite any audit table; roles that no grant can limit are refused."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from typer.testing import CliRunner

from schoolmode.access.roles import Principal, Role
from schoolmode.app.access import AddAccountRequest, add_account
from schoolmode.app.context import Context
from schoolmode.app.decisions import AuthoriseRequest, DecideRequest, authorise, decide
from schoolmode.cli.app import app
from schoolmode.importers.standard import StandardLayout
from schoolmode.settings import AppSettings
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.privileges import PrivilegeError, grant_app_role
from schoolmode.store.service import run_import
from schoolmode.synth.district import write_standard_files
from tests.conftest import fresh_db_url, pg_admin_url
from tests.decisions.test_decide_window import fill_district_store
from tests.synth.test_observations import SCHOOLS

DAY = dt.date(2022, 2, 10)
AUDIT_TABLES = ("decision_run", "decision", "authorisation", "access_log", "chain_link")


def _admin() -> Engine:
    url = make_url(pg_admin_url()).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture
def app_role() -> Iterator[str]:
    """A new login role of the cluster (trust authentication in the test server), dropped
    afterwards with what it was granted."""
    role = f"sm_app_{secrets.token_hex(4)}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
    try:
        yield role
    finally:
        with admin.connect() as conn:
            for database in conn.execute(
                text("SELECT datname FROM pg_database WHERE NOT datistemplate")
            ).scalars():
                engine = create_engine(
                    make_url(pg_admin_url()).set(database=database), isolation_level="AUTOCOMMIT"
                )
                try:
                    with engine.connect() as inner:
                        inner.execute(text(f"DROP OWNED BY {role}"))
                except OperationalError:
                    pass  # dropped meanwhile by another test (pytest-xdist workers share the server)
                finally:
                    engine.dispose()
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


@pytest.fixture
def district(tmp_path: Path) -> Iterator[str]:
    """A PostgreSQL store with the tiny synthetic district, made by its owner."""
    with fresh_db_url("postgresql", tmp_path) as url:
        engine = make_engine(url)
        fill_district_store(engine, tmp_path)
        engine.dispose()
        yield url


def _as(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


def test_the_application_role_works_the_store_and_cannot_rewrite_the_audit(
    district: str, app_role: str
) -> None:
    result = CliRunner().invoke(app, ["db", "grant", app_role, "--db", district])
    assert result.exit_code == 0, result.output
    assert "no TRUNCATE, no ALTER" in result.output
    url = _as(district, app_role)
    ctx = Context(AppSettings.load(db_url=url))
    try:
        run = decide(ctx, DecideRequest(first=DAY, created_by="app role"))
        assert run.decisions > 0
        school = str(SCHOOLS["school_id"][0])
        authorise(
            ctx,
            AuthoriseRequest(
                policy_id="cps-ctu-2022-01-10",
                rule="teacher-absences",
                unit=school,
                day=DAY,
                by="CPS Tactical Team",
                reason="privileges test",
                recorded_by="app role",
            ),
        )
        admin = Principal("owner", Role.administrator)
        add_account(ctx, AddAccountRequest(name="ops", role=Role.district_operations), admin)
    finally:
        ctx.close()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    refused = []
    try:
        with engine.connect() as conn:
            for table in AUDIT_TABLES:
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0
                for statement in (
                    f"TRUNCATE {table}",
                    f"ALTER TABLE {table} DISABLE TRIGGER ALL",
                    f"DROP TRIGGER {table}_append_only ON {table}",
                    f"UPDATE {table} SET id = id",
                    f"DELETE FROM {table}",
                    f"ALTER TABLE {table} ADD COLUMN forged text",
                    f"DROP TABLE {table}",
                ):
                    with pytest.raises(DBAPIError):
                        conn.execute(text(statement))
                    refused.append(statement)
            for statement in (
                "CREATE TABLE forged (id int)",
                "CREATE FUNCTION forged() RETURNS int AS 'SELECT 1' LANGUAGE sql",
                "TRUNCATE account",
                "UPDATE alembic_version SET version_num = '0001'",
            ):
                with pytest.raises(DBAPIError):
                    conn.execute(text(statement))
            assert conn.execute(text("UPDATE account SET disabled_at = disabled_at")).rowcount == 1
    finally:
        engine.dispose()
    assert len(refused) == 7 * len(AUDIT_TABLES)


def test_roles_no_grant_can_limit_are_refused(district: str, app_role: str) -> None:
    engine = make_engine(district)
    try:
        owner = make_url(district).username
        assert owner is not None
        with pytest.raises(PrivilegeError, match="the role running this command"):
            grant_app_role(engine, owner)
        with pytest.raises(PrivilegeError, match="does not exist"):
            grant_app_role(engine, "no_such_role_here")
        with pytest.raises(PrivilegeError, match="lower-case PostgreSQL role name"):
            grant_app_role(engine, 'x"; DROP TABLE decision; --')
        admin = _admin()
        with admin.connect() as conn:
            conn.execute(text(f"ALTER ROLE {app_role} SUPERUSER"))
        admin.dispose()
        with pytest.raises(PrivilegeError, match="superuser"):
            grant_app_role(engine, app_role)
    finally:
        engine.dispose()


def test_an_sqlite_store_has_no_roles(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    result = CliRunner().invoke(app, ["db", "grant", "schoolmode_app", "--db", url])
    assert result.exit_code == 2
    assert "PostgreSQL only" in result.output


def test_the_application_role_imports_and_cannot_store_or_let_in_an_orphan_record(
    district: str, app_role: str, tmp_path: Path
) -> None:
    """Migration 0024's statement-level check of ``import_id`` runs for the application role
    (an import works; a row naming no import is refused) and, owning no table, the role can
    neither drop nor disable it."""
    result = CliRunner().invoke(app, ["db", "grant", app_role, "--db", district])
    assert result.exit_code == 0, result.output
    url = _as(district, app_role)
    people = pl.DataFrame({"person_id": ["Z1", "Z2"], "role": ["other_staff", "other_staff"]})
    path = write_standard_files({"person": people}, tmp_path / "files")[0]
    engine = make_engine(url)
    try:
        imported = run_import(engine, StandardLayout("district-z"), path, imported_by="app role")
        assert imported.added == 2
        with engine.connect() as conn:
            orphan = conn.execute(text("SELECT max(id) + 1 FROM import_log")).scalar_one()
            for statement in (
                f"INSERT INTO person (person_id, role, import_id) VALUES ('Z3', 'other_staff', {orphan})",
                f"UPDATE person SET import_id = {orphan} WHERE person_id = 'Z1'",
                "ALTER TABLE person DISABLE TRIGGER person_import_id_on_insert",
                "ALTER TABLE person DISABLE TRIGGER ALL",
                "DROP TRIGGER person_import_id_on_insert ON person",
                "DROP FUNCTION record_import_id_known()",
            ):
                with pytest.raises(DBAPIError):
                    conn.execute(text(statement))
                conn.rollback()
            stored = conn.execute(
                text("SELECT count(*) FROM person WHERE import_id = :i"), {"i": imported.import_id}
            ).scalar_one()
            assert stored == 2
    finally:
        engine.dispose()

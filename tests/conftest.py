"""Shared fixtures: a fresh, migrated store on SQLite and on PostgreSQL.

PostgreSQL tests read ``SCHOOLMODE_TEST_PG_URL`` (``scripts/test`` starts a throwaway server and
sets it). When it is missing they FAIL: a green run always means both backends were tested.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade

if TYPE_CHECKING:
    from distributed import Client

    from schoolmode.policy.loader import Registry

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SHARED_FIXTURE = FIXTURES / "shared"
FIXTURE_DATA = SHARED_FIXTURE / "data"
PG_ENV = "SCHOOLMODE_TEST_PG_URL"
BACKENDS = ["sqlite", "postgresql"]


def pg_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.fail(
            f"{PG_ENV} is not set: PostgreSQL tests need a server. Run scripts/test (it starts "
            "one) or set the URL to a database you may create databases from.",
            pytrace=False,
        )
    return url


def _fresh_pg_database() -> tuple[str, str]:
    admin = make_url(pg_admin_url()).set(drivername="postgresql+psycopg")
    name = f"sm_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.render_as_string(hide_password=False), name


def _drop_pg_database(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@contextmanager
def fresh_db_url(kind: str, directory: Path) -> Iterator[str]:
    """URL of a new empty database of ``kind`` (sqlite or postgresql), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'store.sqlite'}"
        return
    admin_url, name = _fresh_pg_database()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        _drop_pg_database(admin_url, name)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (not migrated) on each backend."""
    with fresh_db_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A migrated, empty store per backend, built on first use and never opened by a test
    (:func:`store` copies it): the SQLite file's path, or the PostgreSQL database's name."""
    built: dict[str, str] = {}

    class Lazy(dict[str, str]):
        def __missing__(self, kind: str) -> str:
            if kind == "sqlite":
                path = tmp_path_factory.mktemp("migrated") / "store.sqlite"
                url = f"sqlite:///{path}"
                built[kind] = str(path)
            else:
                admin, built[kind] = _fresh_pg_database()
                url = make_url(admin).set(database=built[kind]).render_as_string(False)
            engine = make_engine(url)
            try:
                upgrade(engine)
            finally:
                engine.dispose()  # a template must have no open connection when it is copied
            return built[kind]

    yield Lazy()
    if "postgresql" in built:
        _drop_pg_database(
            make_url(pg_admin_url()).set(drivername="postgresql+psycopg").render_as_string(False),
            built["postgresql"],
        )


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: dict[str, str]
) -> Iterator[Engine]:
    """A migrated, empty store on each backend, the test's own (a copy of the session's
    migrated template: migrating takes longer than copying)."""
    with _copy_of(request.param, migrated_templates[request.param], tmp_path) as engine:
        yield engine


@contextmanager
def _copy_of(kind: str, template: str, folder: Path) -> Iterator[Engine]:
    """An engine on a new copy of a template store of ``kind``: the SQLite file ``template``
    copied into ``folder``, or a PostgreSQL database made from the template database named
    ``template`` (dropped afterwards)."""
    with ExitStack() as stack:
        if kind == "sqlite":
            url = copy_history(Path(template), folder)
        else:
            url = stack.enter_context(_pg_copy(template))
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def _pg_copy(template: str) -> Iterator[str]:
    """URL of a new PostgreSQL database copied from ``template`` (dropped afterwards)."""
    admin_url = make_url(pg_admin_url()).set(drivername="postgresql+psycopg")
    name = f"sm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        _drop_pg_database(admin_url.render_as_string(hide_password=False), name)


@pytest.fixture
def fixture_data() -> Path:
    return FIXTURE_DATA


HISTORY_SOURCES = ("cdph-daily-testing", "cdph-daily-cases", "cps-school-profiles")


@pytest.fixture(scope="session")
def history_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite store holding the fixture history (CDPH daily testing and cases, CPS
    profiles), imported once per session. Never opened by a test: take a copy
    (:func:`copy_history`)."""
    from schoolmode.importers import IMPORTERS
    from schoolmode.store.service import run_import

    path = tmp_path_factory.mktemp("history") / "store.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    for source in HISTORY_SOURCES:
        for data in IMPORTERS[source].default_paths(FIXTURE_DATA):
            run_import(engine, IMPORTERS[source], data)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def history_pg_template() -> Iterator[tuple[str, str]]:
    """(admin URL, name) of a PostgreSQL database holding the fixture history, imported once per
    session and never opened by a test: :func:`history_store` copies it
    (``CREATE DATABASE ... TEMPLATE``)."""
    from schoolmode.importers import IMPORTERS
    from schoolmode.store.service import run_import

    admin_url, name = _fresh_pg_database()
    engine = make_engine(make_url(admin_url).set(database=name).render_as_string(False))
    try:
        upgrade(engine)
        for source in HISTORY_SOURCES:
            for data in IMPORTERS[source].default_paths(FIXTURE_DATA):
                run_import(engine, IMPORTERS[source], data)
    finally:
        engine.dispose()  # a template must have no open connection when it is copied
    try:
        yield admin_url, name
    finally:
        _drop_pg_database(admin_url, name)


@pytest.fixture(params=BACKENDS)
def history_store(
    request: pytest.FixtureRequest, tmp_path: Path, history_sqlite: Path
) -> Iterator[Engine]:
    """A store holding the fixture history on each backend, the test's own copy (it may write)."""
    if request.param == "sqlite":
        template = str(history_sqlite)
    else:
        _admin_url, template = request.getfixturevalue("history_pg_template")
    with _copy_of(request.param, template, tmp_path) as engine:
        yield engine


def copy_history(history: Path, folder: Path) -> str:
    """URL of a copy of a template SQLite store (``history_sqlite``, a migrated one) as ``folder/store.sqlite``, the caller's own
    (its tests may write to it)."""
    target = folder / "store.sqlite"
    os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # as make_engine
    with closing(sqlite3.connect(history)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    return f"sqlite:///{target}"


# ---------------------------------------------------------------------- dask


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Client]:
    """A client of one ``LocalCluster`` of two worker processes (``parallel.dask_client``), started
    once for the session's Dask tests; a test that needs a scheduler address takes
    ``dask_cluster.scheduler.address``."""
    from schoolmode.parallel import dask_client

    with dask_client(workers=2) as client:
        yield client


# ---------------------------------------------------------------------- policies

ROOT = REPO
POLICIES = ROOT / "src" / "schoolmode" / "policies"


@pytest.fixture(scope="session")
def registry() -> Registry:
    from schoolmode.policy.loader import Registry

    return Registry(POLICIES)


# ---------------------------------------------------------------------- standard records


def standard_frame(name: str, rows: list[dict[str, object]]) -> pl.DataFrame:
    """Rows of record type ``name`` as a frame of the standard's schema (missing fields null)."""
    from schoolmode.standard.batch import frame_schema
    from schoolmode.standard.models import RECORD_TYPES

    schema = frame_schema(RECORD_TYPES[name])
    frame = pl.DataFrame(rows)
    return frame.select(
        *(
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in schema.items()
        )
    )


def import_frames(store: Engine, frames: dict[str, pl.DataFrame], folder: Path) -> None:
    """Write ``frames`` as standard files under ``folder`` and import each into ``store``."""
    from schoolmode.importers.standard import StandardLayout
    from schoolmode.store.service import run_import
    from schoolmode.synth.district import write_standard_files

    for path in write_standard_files(frames, folder):
        run_import(store, StandardLayout("fixture"), path)


def store_url(store: Engine) -> str:
    """The store's URL with its password, for a CLI's ``--db``."""
    return store.url.render_as_string(hide_password=False)


def case_row(
    case_id: str, person: str, onset: dt.date | None, report: dt.date | None = None
) -> dict[str, object]:
    """A confirmed SARS-CoV-2 case, not household-linked, reported the day after onset unless
    ``report`` is given."""
    if report is None:
        assert onset is not None, "a case needs an onset or a report date"
        report = onset + dt.timedelta(days=1)
    return {
        "case_id": case_id,
        "person_id": person,
        "pathogen": "sars-cov-2",
        "onset_date": onset,
        "report_date": report,
        "status": "confirmed",
        "household_linked": False,
    }


def import_classroom(
    store: Engine,
    folder: Path,
    cases: list[dict[str, object]],
    students: int = 5,
    start: dt.date = dt.date(2021, 9, 1),
) -> None:
    """One classroom 3A of school SCH (2021-2022) with students S1..S<students> enrolled from
    ``start``, and ``cases``, imported into ``store``."""
    people = [f"S{i}" for i in range(1, students + 1)]
    frames = {
        "person": standard_frame("person", [{"person_id": p, "role": "student"} for p in people]),
        "classroom": standard_frame(
            "classroom",
            [{"classroom_id": "3A", "school_id": "SCH", "school_year": "2021-2022", "grade": "3"}],
        ),
        "enrolment": standard_frame(
            "enrolment",
            [{"person_id": p, "classroom_id": "3A", "start_date": start} for p in people],
        ),
        "case": standard_frame("case", cases),
    }
    import_frames(store, frames, folder)


def shipped_cdph_store(path: Path, cases_through: dt.date | None = None) -> str:
    """A SQLite store at ``path`` with the shipped snapshot's CDPH daily tests, daily cases
    (``cases_through``: only to that day) and ZIP weekly series; its URL."""
    from schoolmode.importers.cdph import DailyCases, DailyTesting, ZipWeekly
    from schoolmode.settings import SHIPPED_DATA
    from schoolmode.store.service import run_import

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        for importer in (DailyTesting(), DailyCases(), ZipWeekly()):
            file = Path(f"{SHIPPED_DATA / importer.default_files[0]}.gz")
            if cases_through is not None and isinstance(importer, DailyCases):
                rows = pl.read_csv(file, infer_schema=False)
                day = pl.col("Date").str.to_date("%m/%d/%Y")
                file = path.parent / Path(importer.default_files[0]).name
                rows.filter(day <= cases_through).write_csv(file)
            run_import(engine, importer, file)
    finally:
        engine.dispose()
    return url

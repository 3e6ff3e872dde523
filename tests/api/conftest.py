"""The API on a store with the tiny synthetic district (decided on one day) and one account
per role, on SQLite and on the throwaway PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from schoolmode.access.roles import Principal, Role, Scope
from schoolmode.api.app import create_app
from schoolmode.app.access import AddAccountRequest, TokenRequest, add_account, create_token
from schoolmode.app.context import Context
from schoolmode.app.decisions import DecideRequest, decide
from schoolmode.settings import AppSettings
from schoolmode.store.db import make_engine
from tests.conftest import BACKENDS, _drop_pg_database, _fresh_pg_database
from tests.decisions.test_decide_window import fill_district_store
from tests.synth.test_observations import SCHOOLS

DAY = dt.date(2022, 2, 10)
"""The day decided in the store (the January 2022 agreement; its rules fire on the district)."""

ADMIN = Principal("test-admin", Role.administrator)
SCHOOL = str(SCHOOLS["school_id"][0])
OTHER_SCHOOL = str(SCHOOLS["school_id"][1])
PASSWORD = "correct horse battery staple"


@dataclass
class Api:
    """A client of the API on a store, a token per role (district scope) and for a union
    member scoped to one school."""

    client: TestClient
    ctx: Context
    engine: Engine
    tokens: dict[str, str]
    run_id: int

    def as_(self, who: str) -> dict[str, str]:
        """Headers of ``who`` (a role's value, ``school-union``, or ``public``: none)."""
        return {} if who == "public" else {"Authorization": f"Bearer {self.tokens[who]}"}


def _accounts(ctx: Context) -> dict[str, str]:
    tokens = {}
    for role in Role:
        if role is Role.public:
            continue
        add_account(ctx, AddAccountRequest(name=role.value, role=role, password=PASSWORD), ADMIN)
        tokens[role.value] = create_token(
            ctx, TokenRequest(name=role.value, label="tests"), ADMIN
        ).token
    add_account(
        ctx,
        AddAccountRequest(
            name="school-union",
            role=Role.union_safety_committee,
            scope=str(Scope.parse(f"school:{SCHOOL}")),
        ),
        ADMIN,
    )
    tokens["school-union"] = create_token(
        ctx, TokenRequest(name="school-union", label="tests"), ADMIN
    ).token
    return tokens


@dataclass(frozen=True)
class Template:
    """A store built once per session and backend (district, accounts, a run deciding ``DAY``),
    never opened by a test: each module takes a copy (:func:`_copy`)."""

    kind: str
    source: str  # the SQLite file, or the PostgreSQL template database's name
    admin: str | None  # PostgreSQL: the URL to create databases from
    tokens: dict[str, str]
    run_id: int


def _build(kind: str, directory: Path) -> Template:
    if kind == "sqlite":
        path = directory / "template.sqlite"
        url, admin, source = f"sqlite:///{path}", None, str(path)
    else:
        admin, source = _fresh_pg_database()
        url = make_url(admin).set(database=source).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        fill_district_store(engine, directory)
        ctx = Context(AppSettings.load(db_url=url))
        try:
            tokens = _accounts(ctx)
            run = decide(ctx, DecideRequest(first=DAY, created_by="tests"))
        finally:
            ctx.close()
    finally:
        engine.dispose()  # a PostgreSQL template must have no open connection when copied
    return Template(kind, source, admin, tokens, run.run_id)


@pytest.fixture(scope="session")
def api_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Template]]:
    """The templates, built on first use per backend and dropped at the end of the session."""
    built: dict[str, Template] = {}

    class Lazy(dict[str, Template]):
        def __missing__(self, kind: str) -> Template:
            built[kind] = _build(kind, tmp_path_factory.mktemp(f"api-template-{kind}"))
            return built[kind]

    yield Lazy()
    for template in built.values():
        if template.admin is not None:
            _drop_pg_database(template.admin, template.source)


def _copy(template: Template, directory: Path) -> tuple[str, tuple[str, str] | None]:
    """A new store copied from ``template``: its URL, and (admin URL, name) to drop it by."""
    if template.kind == "sqlite":
        target = directory / "store.sqlite"
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        with (
            closing(sqlite3.connect(template.source)) as source,
            closing(sqlite3.connect(target)) as copy,
        ):
            source.backup(copy)
        return f"sqlite:///{target}", None
    assert template.admin is not None
    name = f"sm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(template.admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.source}"'))
    admin.dispose()
    url = make_url(template.admin).set(database=name).render_as_string(hide_password=False)
    return url, (template.admin, name)


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    api_templates: dict[str, Template],
) -> Iterator[Api]:
    """A module's own store and backend, copied from the session's template (district, a run
    deciding ``DAY``, the accounts), and a client of the API on it (its start-up and shutdown
    run)."""
    template = api_templates[request.param]
    directory = tmp_path_factory.mktemp(f"api-{request.param}")
    url, pg = _copy(template, directory)
    engine = make_engine(url)
    try:
        ctx = Context(AppSettings.load(db_url=url))
        # the tests make hundreds of requests a minute: limits of their own (tests/api/test_limits.py)
        # ... and publishers that answer nothing at once: no request leaves the machine
        nowhere = "http://127.0.0.1:9"
        unlimited = AppSettings.load(
            db_url=url,
            api_rate_anonymous=10**6,
            api_rate_token=10**6,
            chicago_portal_url=nowhere,
            github_raw_url=nowhere,
            ontario_portal_url=nowhere,
            sociopatterns_url=nowhere,
            fetch_retries=0,
            cache_dir=directory / "cache",
        )
        with TestClient(create_app(unlimited)) as client:
            yield Api(client, ctx, engine, dict(template.tokens), template.run_id)
        ctx.close()
    finally:
        engine.dispose()
        if pg is not None:
            _drop_pg_database(*pg)

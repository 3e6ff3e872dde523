"""The API on a store with the tiny synthetic district (decided on one day) and one account
per role, on SQLite and on the throwaway PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from schoolmode.access.roles import Principal, Role, Scope
from schoolmode.api.app import create_app
from schoolmode.app.access import AddAccountRequest, TokenRequest, add_account, create_token
from schoolmode.app.context import Context
from schoolmode.app.decisions import DecideRequest, decide
from schoolmode.app.releases import PublishRequest, publish
from schoolmode.settings import AppSettings
from schoolmode.store.db import make_engine
from tests.conftest import (
    BACKENDS,
    _copy_of,
    _drop_pg_database,
    _fresh_pg_database,
    store_url,
)
from tests.decisions.test_decide_window import fill_district_store
from tests.synth.test_observations import SCHOOLS

DAY = dt.date(2022, 2, 10)
"""The day decided in the store (the January 2022 agreement; its rules fire on the district)."""
PUBLISHED = dt.date(2022, 1, 17)
"""The first day of the public release the store holds (a Monday: 2022-01-17 to ``DAY``)."""

ADMIN = Principal("test-admin", Role.administrator)
SCHOOL = str(SCHOOLS["school_id"][0])
OTHER_SCHOOL = str(SCHOOLS["school_id"][1])
THIRD_SCHOOL = str(SCHOOLS["school_id"][2])
NETWORK = "network-7"
NETWORKS = {SCHOOL: NETWORK, OTHER_SCHOOL: NETWORK, THIRD_SCHOOL: "network-9"}
"""The schools' networks in the store: ``NETWORK`` holds ``SCHOOL`` and ``OTHER_SCHOOL``."""
PASSWORD = "correct horse battery staple"


@dataclass
class Api:
    """A client of the API on a store, a token per role (district scope) and for union
    members scoped to one school (``school-union``) and to one network (``network-union``)."""

    client: TestClient
    ctx: Context
    engine: Engine
    tokens: dict[str, str]
    run_id: int

    def as_(self, who: str) -> dict[str, str]:
        """Headers of ``who`` (a role's value, ``school-union``, ``network-union``, or
        ``public``: none)."""
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
    for name, scope in (
        ("school-union", f"school:{SCHOOL}"),
        ("network-union", f"network:{NETWORK}"),
    ):
        add_account(
            ctx,
            AddAccountRequest(
                name=name, role=Role.union_safety_committee, scope=str(Scope.parse(scope))
            ),
            ADMIN,
        )
        tokens[name] = create_token(ctx, TokenRequest(name=name, label="tests"), ADMIN).token
    return tokens


@dataclass(frozen=True)
class Template:
    """A store built once per session and backend (district, accounts, a run deciding ``DAY``),
    never opened by a test: each module takes a copy (``tests.conftest._copy_of``)."""

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
        fill_district_store(engine, directory, NETWORKS)
        ctx = Context(AppSettings.load(db_url=url))
        try:
            tokens = _accounts(ctx)
            run = decide(ctx, DecideRequest(first=DAY, created_by="tests"))
            # the public release of the weeks up to DAY (the public metrics serve it)
            publish(ctx, PublishRequest(first=PUBLISHED, last=DAY, created_by="tests"))
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
    with _copy_of(request.param, template.source, directory) as engine:
        url = store_url(engine)
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

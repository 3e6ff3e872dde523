"""The site (API and dashboard) on a copy of the API tests' store (the tiny synthetic
district, its public release) with a second run that decides a week again: the school pages
have a history and the change log a re-decision. On SQLite and PostgreSQL for the pages; the
browser tests serve the SQLite copy with uvicorn on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi.testclient import TestClient

from schoolmode.app.context import Context
from schoolmode.app.decisions import DecideRequest, decide
from schoolmode.settings import AppSettings
from schoolmode.web.site import create_site
from tests.api.conftest import (  # api_templates: the session's stores
    DAY,
    SCHOOL,
    Template,
    api_templates,  # noqa: F401
)
from tests.conftest import BACKENDS, _copy_of, store_url

FIRST = DAY - dt.timedelta(days=3)
"""The second run decides ``FIRST`` to ``DAY`` (the first run decided ``DAY`` alone)."""


@dataclass
class Site:
    client: TestClient
    ctx: Context
    url: str
    """The store's URL."""


def _settings(url: str, directory: object) -> AppSettings:
    nowhere = "http://127.0.0.1:9"  # no request leaves the machine
    return AppSettings.load(
        db_url=url,
        api_rate_anonymous=10**6,
        api_rate_token=10**6,
        chicago_portal_url=nowhere,
        github_raw_url=nowhere,
        ontario_portal_url=nowhere,
        sociopatterns_url=nowhere,
        fetch_retries=0,
        cache_dir=directory,
    )


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    api_templates: dict[str, Template],  # noqa: F811
) -> Iterator[Site]:
    template = api_templates[request.param]
    directory = tmp_path_factory.mktemp(f"web-{request.param}")
    with _copy_of(request.param, template.source, directory) as engine:
        url = store_url(engine)
        ctx = Context(AppSettings.load(db_url=url))
        decide(ctx, DecideRequest(first=FIRST, last=DAY, created_by="tests"))
        with TestClient(create_site(_settings(url, directory / "cache"))) as client:
            yield Site(client, ctx, url)
        ctx.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_site(
    tmp_path_factory: pytest.TempPathFactory,
    api_templates: dict[str, Template],  # noqa: F811
) -> Iterator[str]:
    """The site served by uvicorn on 127.0.0.1 (a free port) on a SQLite copy: its base URL."""
    template = api_templates["sqlite"]
    directory = tmp_path_factory.mktemp("web-live")
    with _copy_of("sqlite", template.source, directory) as engine:
        url = store_url(engine)
        ctx = Context(AppSettings.load(db_url=url))
        decide(ctx, DecideRequest(first=FIRST, last=DAY, created_by="tests"))
        ctx.close()
        port = _free_port()
        config = uvicorn.Config(
            create_site(_settings(url, directory / "cache")),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the site did not start", pytrace=False)
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=30)


__all__ = ["DAY", "FIRST", "SCHOOL", "Site"]

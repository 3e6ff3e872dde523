"""The site (API and dashboard) on a copy of the API tests' store (the tiny synthetic
district, its public release) with a second run that decides a week again: the school pages
have a history and the change log a re-decision. On SQLite and PostgreSQL for the pages; the
browser tests serve the SQLite copy with uvicorn on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

if TYPE_CHECKING:
    from distributed import Client

from schoolmode.app.context import Context
from schoolmode.app.decisions import DecideRequest, decide
from schoolmode.importers.standard import StandardLayout
from schoolmode.settings import AppSettings
from schoolmode.store.service import run_import
from schoolmode.synth.district import write_standard_files
from schoolmode.web.site import create_site, serving
from tests.api.conftest import (  # api_templates: the session's stores
    DAY,
    NETWORKS,
    SCHOOL,
    Template,
    api_templates,  # noqa: F401
)
from tests.conftest import BACKENDS, _copy_of, store_url
from tests.synth.test_observations import SCHOOLS

PLACES = {
    "400001": ("Jane Addams Elementary", 41.8781, -87.6298),
    "400002": ("Ida B. Wells Elementary", 41.8800, -87.6350),
    "400003": ("Lorraine Hansberry Elementary", 41.8850, -87.6200),
}
"""The schools' names and coordinates, imported as a corrected school file (the API tests'
store names each school by its id and has no coordinates)."""
FIRST = DAY - dt.timedelta(days=3)
"""The second run decides ``FIRST`` to ``DAY`` (the first run decided ``DAY`` alone)."""


@dataclass
class Site:
    client: TestClient
    ctx: Context
    url: str
    """The store's URL."""


def _settings(url: str, directory: object, scheduler: str | None = None) -> AppSettings:
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
        jobs_scheduler=scheduler,
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
        _prepare(engine, directory)
        ctx = Context(AppSettings.load(db_url=url))
        with TestClient(create_site(_settings(url, directory / "cache"))) as client:
            yield Site(client, ctx, url)
        ctx.close()


def _prepare(engine: Engine, directory: Path) -> None:
    """The schools' names and places (a corrected school file) and a second run deciding
    ``FIRST`` to ``DAY``."""
    school = SCHOOLS.select(
        "school_id",
        pl.lit("2021-2022").alias("school_year"),
        pl.lit("synthetic").alias("district_id"),
        pl.col("school_id").replace_strict({k: v[0] for k, v in PLACES.items()}).alias("name"),
        pl.lit("ES").alias("level"),
        "grades",
        "zip",
        pl.col("school_id").replace_strict({k: v[1] for k, v in PLACES.items()}).alias("latitude"),
        pl.col("school_id").replace_strict({k: v[2] for k, v in PLACES.items()}).alias("longitude"),
        "enrolment",
        pl.col("school_id").replace_strict(NETWORKS).alias("network"),
    )
    for path in write_standard_files({"school": school}, directory / "corrected"):
        run_import(engine, StandardLayout("synthetic-district"), path)
    ctx = Context(AppSettings.load(db_url=store_url(engine)))
    try:
        decide(ctx, DecideRequest(first=FIRST, last=DAY, created_by="tests"))
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def live_site(
    tmp_path_factory: pytest.TempPathFactory,
    api_templates: dict[str, Template],  # noqa: F811
    dask_cluster: Client,
) -> Iterator[str]:
    """The site served by uvicorn on 127.0.0.1 (a free port) on a SQLite copy, its jobs run on
    the session's Dask cluster: its base URL."""
    template = api_templates["sqlite"]
    directory = tmp_path_factory.mktemp("web-live")
    with _copy_of("sqlite", template.source, directory) as engine:
        url = store_url(engine)
        _prepare(engine, directory)
        settings = _settings(url, directory / "cache", dask_cluster.scheduler.address)
        with serving(settings) as base:
            yield base


__all__ = ["DAY", "FIRST", "PLACES", "SCHOOL", "Site"]

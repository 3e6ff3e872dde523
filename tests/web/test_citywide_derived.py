"""The public citywide release after CDPH's daily by-test series ends (2021-11-24): the days
go on with the counts they have (the cases), the positivity derived from the weekly ZIP-code
tests is released as a rate with its basis, and the district page's charts run through
January 2022 with the derived days drawn apart and said in words (issue 14).

The store holds the shipped snapshot's daily tests, daily cases and ZIP weekly series, one
decision run (a district-only policy) and one public release."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from schoolmode.access.roles import ANONYMOUS
from schoolmode.app.charts import district_charts
from schoolmode.app.context import Context
from schoolmode.app.decisions import DecideRequest, decide
from schoolmode.app.metrics import MetricsRequest, metrics_frame
from schoolmode.app.releases import PublishRequest, publish
from schoolmode.disclosure import SUPPRESSED
from schoolmode.importers.cdph import DailyCases
from schoolmode.metrics.community import BY_TEST, DERIVED
from schoolmode.settings import SHIPPED_DATA, AppSettings
from schoolmode.store.db import make_engine
from schoolmode.store.service import run_import
from schoolmode.web.chart import draw
from schoolmode.web.site import create_site
from tests.conftest import shipped_cdph_store

DAY = dt.date(2022, 1, 31)
LAST_BY_TEST = dt.date(2021, 11, 24)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    url = shipped_cdph_store(tmp_path_factory.mktemp("city-derived") / "store.sqlite")
    made = Context(AppSettings.load(db_url=url))
    decide(made, DecideRequest(first=DAY, policy_id="ctu-proposal-2022-01-08", created_by="t"))
    publish(made, PublishRequest(created_by="tests"))
    yield made
    made.close()


def _public(ctx: Context, first: dt.date, last: dt.date) -> pl.DataFrame:
    frame, _, _ = metrics_frame(
        ctx, MetricsRequest(level="citywide", start=first, end=last), ANONYMOUS
    )
    return frame


def test_the_public_citywide_release_goes_on_after_the_daily_series(ctx: Context) -> None:
    january = _public(ctx, dt.date(2022, 1, 1), DAY)
    assert january.height == 31  # every day released, none dropped
    assert set(january["positivity_basis"]) == {DERIVED}
    assert january["positive_7d"].null_count() == 31  # blanks: the series has no such count
    assert january[SUPPRESSED].null_count() == 31  # ... never named as suppressed
    assert january["cases_7d"].null_count() == 0
    assert january["cases_per_100k_14d"].null_count() == 0
    assert january["positivity_7d"].null_count() == 0  # the derived positivity, every day
    # Omicron: test positivity "above 20%" in January 2022 (the seeds, the press)
    assert january["positivity_7d"].max() > 20  # type: ignore[operator]
    before = _public(ctx, dt.date(2021, 11, 20), LAST_BY_TEST)
    assert set(before["positivity_basis"]) == {BY_TEST}
    assert before["positive_7d"].null_count() == 0


def test_the_release_starts_where_every_count_does(ctx: Context) -> None:
    # the first days of the series (March 2020: 14-day windows not yet full, small counts)
    # are not released: a 14-day count published before would give their 7-day counts away
    frame, _, _ = metrics_frame(ctx, MetricsRequest(level="citywide"), ANONYMOUS)
    first = frame.row(0, named=True)
    assert all(first[c] is not None for c in ("positive_7d", "positive_14d", "cases_14d"))
    assert frame[SUPPRESSED].null_count() == frame.height  # nothing small in what is released


def test_a_release_after_one_that_ended_at_the_seam_adds_the_later_days(
    tmp_path: Path,
) -> None:
    # the main job's stores of before this change: a citywide release that ended on
    # 2021-11-24; the next release keeps every figure it published and adds the later days
    url = shipped_cdph_store(tmp_path / "store.sqlite", cases_through=LAST_BY_TEST)
    made = Context(AppSettings.load(db_url=url))
    try:
        first = publish(made, PublishRequest(created_by="tests")).releases
        assert [(r.period_end, r.hidden) for r in first if r.kind == "citywide"] == [
            (LAST_BY_TEST, 0)
        ]
        was = _public(made, dt.date(2020, 1, 1), LAST_BY_TEST)
        engine = make_engine(url)
        try:
            run_import(
                engine, DailyCases(), Path(f"{SHIPPED_DATA / DailyCases().default_files[0]}.gz")
            )
        finally:
            engine.dispose()
        again = publish(made, PublishRequest(created_by="tests")).releases
        city = [r for r in again if r.kind == "citywide"]
        assert len(city) == 1
        assert city[0].new
        assert city[0].hidden == 0
        assert city[0].notes == []
        assert city[0].period_end > DAY
        now = _public(made, dt.date(2020, 1, 1), DAY)
        kept = now.filter(pl.col("date") <= LAST_BY_TEST).select(was.columns)
        assert kept.drop("positivity_basis").equals(was.drop("positivity_basis"))
        assert now.filter(pl.col("date") > LAST_BY_TEST)["cases_7d"].null_count() == 0
    finally:
        made.close()


def test_the_district_charts_run_through_january_with_the_derived_days_apart(
    ctx: Context,
) -> None:
    charts = {c.column: c for c in district_charts(ctx, DAY)}
    seven = charts["positivity_7d"]
    assert seven.points[-1][0] == DAY
    assert seven.derived[0] == LAST_BY_TEST + dt.timedelta(days=1)
    assert seven.derived[-1] == DAY
    assert all(d > LAST_BY_TEST for d in seven.derived)
    assert [d for d, _ in seven.points if d <= LAST_BY_TEST]  # the by-test days too
    cases = charts["cases_per_100k_14d"]
    assert cases.points[-1][0] == DAY
    assert cases.derived == []
    drawn = draw(seven)
    # the derived stretch joins the last by-test day: one more point than the derived days
    assert len(drawn.derived.split()) == len(seven.derived) + 1
    assert len(drawn.points.split()) == len(seven.points) - len(seven.derived)
    assert draw(cases).derived == ""


def test_the_district_page_draws_and_says_the_derived_days(ctx: Context) -> None:
    settings = AppSettings.load(
        db_url=ctx.settings.db_url, api_rate_anonymous=10**6, api_rate_token=10**6
    )
    with TestClient(create_site(settings)) as client:
        page = client.get("/", params={"date": DAY.isoformat()})
        assert page.status_code == 200, page.text
        text = page.text
        assert text.count('class="series derived"') == 2  # the 7- and 14-day positivity
        said = "From Thursday 25 November 2021 on (dashed), the figure is derived from the "
        assert " ".join(text.split()).count(said) == 2
        assert "(derived)" in text  # in the tables of figures
        spanish = client.get("/", params={"date": DAY.isoformat(), "lang": "es"}).text
        assert 'class="series derived"' in spanish
        assert "la cifra se deriva de las pruebas semanales por código postal" in spanish

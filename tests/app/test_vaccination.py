"""The vaccination use case, called directly on a small stored district (SQLite)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from schoolmode.app.context import Context
from schoolmode.app.vaccination import ScheduleRequest, Site, schedule
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.settings import AppSettings
from schoolmode.store.migrate import upgrade
from tests.cli.test_staffops_cli import _district
from tests.conftest import POLICIES

D = dt.date


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    context = Context(
        AppSettings.load(db_url=f"sqlite:///{tmp_path / 'store.sqlite'}", policies_dir=POLICIES)
    )
    upgrade(context.engine)
    _district(context.engine, tmp_path)
    try:
        yield context
    finally:
        context.close()


def test_schedule_returns_the_figures_and_the_projection(ctx: Context) -> None:
    req = ScheduleRequest(
        start=D(2021, 2, 11),
        weeks=6,
        policy_id="cps-ctu-2021-02-06",
        sites=(Site(site_id="Clark", daily_capacity=2),),
        settings={"second_dose_interval_days": "21"},
    )
    result = schedule(ctx, req)
    assert result.policy_id == "cps-ctu-2021-02-06"
    assert result.staff == 6
    assert result.sites == 1
    assert result.run_id is None
    assert result.rules.first_doses_per_week == 1500
    assert result.appointments.height == 10
    assert set(result.appointments["site_id"]) == {"Clark"}
    assert result.weekly.height == 6
    groups = {r["group"]: r for r in result.projection.iter_rows(named=True)}
    assert groups["prek_cluster"]["all_by"] == D(2021, 3, 4)
    assert groups["g6_8"]["all_by"] == D(2021, 3, 8)
    assert groups["hs"]["all_staff_met"] is True


def test_schedule_records_a_run_and_takes_given_zip_codes(ctx: Context) -> None:
    req = ScheduleRequest(
        start=D(2021, 2, 11),
        weeks=2,
        policy_id="ctu-demand-2021-02",
        hardest_hit_zips=("60601", "60601"),
        record=True,
        by="hr",
    )
    result = schedule(ctx, req)
    assert result.rules.hardest_hit_zips == ("60601",)
    assert result.rules.sources["hardest_hit_zips"] == "given (--hardest-hit-zip)"
    assert result.run_id == 1
    with ctx.engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM vaccination_appointment")).scalar_one()
    assert stored == result.appointments.height


def test_schedule_errors_are_schoolmode_errors(ctx: Context) -> None:
    with pytest.raises(SchoolmodeError, match="only 0 ZIP codes"):
        schedule(ctx, ScheduleRequest(start=D(2021, 2, 11), policy_id="ctu-demand-2021-02"))
    with pytest.raises(SchoolmodeError, match="no staff with an assignment on 2019-01-01"):
        schedule(
            ctx,
            ScheduleRequest(
                start=D(2021, 2, 11), policy_id="cps-ctu-2021-02-06", roster_date=D(2019, 1, 1)
            ),
        )

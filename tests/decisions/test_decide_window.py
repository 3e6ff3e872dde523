"""A day's decision reads the policy's trailing window: the same decisions as the whole history,
and an audit that reads the store again over the same days with the same checks."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from sqlalchemy import Engine

from schoolmode.decisions.audit import reproduce
from schoolmode.decisions.record import (
    authorisations,
    citywide_needed,
    decide,
    decision_rows,
    decision_window,
    evaluate_run,
    input_frames,
)
from schoolmode.engine.settings import Settings
from schoolmode.importers import IMPORTERS
from schoolmode.importers.standard import StandardLayout
from schoolmode.metrics.frames import school_data
from schoolmode.metrics.school import SchoolData, classroom_metrics, school_metrics
from schoolmode.policy.loader import Registry
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import run_import
from schoolmode.synth.district import SynthConfig, synth_district, write_standard_files
from schoolmode.synth.observations import ObservationConfig, derive_observations, merge_into
from tests.conftest import FIXTURE_DATA, POLICIES
from tests.synth.test_observations import SCHOOLS, _zip_weekly

D = dt.date.fromisoformat
AGREEMENT = "cps-ctu-2022-01-10"
DAYS = [D("2022-01-25"), D("2022-02-10")]
WHOLE_HISTORY = D("2020-03-01")


@pytest.fixture(scope="module")
def district_store(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """SQLite store: the CDPH fixture series and a tiny synthetic district with cases enough
    that the January 2022 agreement's school and classroom rules fire."""
    directory = tmp_path_factory.mktemp("window")
    engine = make_engine(f"sqlite:///{directory / 'store.sqlite'}")
    upgrade(engine)
    for source in ("cdph-daily-testing", "cdph-daily-cases"):
        for path in IMPORTERS[source].default_paths(FIXTURE_DATA):
            run_import(engine, IMPORTERS[source], path)
    district = synth_district(SCHOOLS, SynthConfig(seed=3))
    config = ObservationConfig(
        start=D("2021-11-01"), end=D("2022-02-25"), staff_case_share=0.5, substitute_fill_rate=0.0
    )
    empty = pl.DataFrame(schema={"school_id": pl.String, "date": pl.Date, "cases": pl.Int64})
    observed = derive_observations(district, SCHOOLS, empty, _zip_weekly(400.0), config)
    school = SCHOOLS.select(
        "school_id",
        pl.lit("2021-2022").alias("school_year"),
        pl.lit("synthetic").alias("district_id"),
        pl.col("school_id").alias("name"),
        pl.lit("ES").alias("level"),
        "grades",
        "zip",
        "enrolment",
    )
    frames = {"school": school, **merge_into(district, observed)}
    for path in write_standard_files(frames, directory / "standard"):
        run_import(engine, StandardLayout("synthetic-district"), path)
    return engine


def test_windowed_inputs_decide_a_day_as_the_whole_history(district_store: Engine) -> None:
    policy = Registry(POLICIES).get(AGREEMENT).policy
    needed = citywide_needed(policy)
    auth = authorisations(district_store, policy.id)
    default = policy.modes[0].id
    for day in DAYS:
        start = day - dt.timedelta(days=decision_window(policy))
        windowed = input_frames(district_store, start, day, needed)
        whole = input_frames(district_store, WHOLE_HISTORY, day, needed)
        assert set(windowed) == {"district", "school", "classroom"}
        assert windowed["classroom"].height < whole["classroom"].height
        got = decision_rows(evaluate_run(policy, windowed, auth, Settings(), day, day), day, day)
        want = decision_rows(evaluate_run(policy, whole, auth, Settings(), day, day), day, day)
        assert got == want  # modes, statuses, rules, traces and explanations
        assert any(r["status"] != default for r in got)
        assert any(r["scope"] == "classroom" and r["trace_json"] for r in got)


def test_school_records_read_for_the_window_give_the_whole_historys_metrics(
    district_store: Engine,
) -> None:
    start, end = D("2022-01-03"), D("2022-02-10")
    windowed = school_data(district_store, start, end)
    whole = SchoolData.load(district_store)
    assert windowed.enrolment.height <= whole.enrolment.height
    assert school_metrics(windowed, start, end).equals(school_metrics(whole, start, end))
    assert classroom_metrics(windowed, start, end).equals(classroom_metrics(whole, start, end))


def test_reproduce_accepts_what_decide_accepted(district_store: Engine) -> None:
    # the agreement reads no citywide positivity, which the fixture series ends before 2022:
    # decide accepts the day, and so must its audit
    registry = Registry(POLICIES)
    summary = decide(district_store, registry.get(AGREEMENT), DAYS[-1])
    report = reproduce(district_store, summary.run_id, registry)
    assert report.identical, report.render()

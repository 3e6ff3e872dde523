"""A day's decision reads the policy's trailing window: the same decisions as the whole history,
and an audit that reads the store again over the same days with the same checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select

from schoolmode.decisions import answers, record
from schoolmode.decisions.audit import reproduce
from schoolmode.decisions.record import (
    DIGEST_ROWS,
    authorisations,
    citywide_needed,
    decide,
    decision_rows,
    decision_window,
    evaluate_run,
    frame_columns,
    input_frames,
    inputs_digest,
    scope_starts,
    unpack,
)
from schoolmode.engine.grid import Calendar
from schoolmode.engine.settings import Settings
from schoolmode.engine.window import (
    SCHOOL_DAY_SLACK,
    WEEKEND_SLACK,
    policy_window,
    school_day_slack,
)
from schoolmode.importers import IMPORTERS
from schoolmode.importers.standard import StandardLayout
from schoolmode.metrics.frames import school_data
from schoolmode.metrics.school import SchoolData, classroom_metrics, school_metrics
from schoolmode.policy.loader import Registry
from schoolmode.policy.needs import attributes_needed
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import run_import
from schoolmode.store.tables import decision_run
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
    fill_district_store(engine, directory)
    return engine


def fill_district_store(
    engine: Engine, directory: Path, networks: dict[str, str] | None = None
) -> None:
    """Migrate ``engine``'s store and import the CDPH fixture series and the tiny synthetic
    district (its standard files written under ``directory``); ``networks``: each school's
    network (none by default)."""
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
    if networks is not None:
        school = school.with_columns(pl.col("school_id").replace_strict(networks).alias("network"))
    frames = {"school": school, **merge_into(district, observed)}
    for path in write_standard_files(frames, directory / "standard"):
        run_import(engine, StandardLayout("synthetic-district"), path)


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


PROPOSAL = "cps-proposal-2022-01-04"
"""Reads classroom metrics per school (``share_of_units`` by ``parent``) and a school's grade band."""


@pytest.mark.parametrize("policy_id", [AGREEMENT, PROPOSAL])
def test_a_runs_frames_hold_only_what_the_policy_reads_and_decide_the_same(
    district_store: Engine, policy_id: str
) -> None:
    """The frames a run keeps: unit, date and the columns the policy reads (its metrics and the
    attributes it tests or groups by), each scope from its own rules' window; the decisions,
    traces and explanations equal those from every column over the whole history."""
    policy = Registry(POLICIES).get(policy_id).policy
    auth = authorisations(district_store, policy.id)
    wanted = frame_columns(policy)
    for day in DAYS:
        start = day - dt.timedelta(days=decision_window(policy))
        starts = scope_starts(policy, day)
        narrow = input_frames(district_store, start, day, citywide_needed(policy), wanted, starts)
        whole = input_frames(district_store, WHOLE_HISTORY, day, citywide_needed(policy))
        for scope, frame in narrow.items():
            assert set(frame.columns) == {"unit", "date", *wanted.get(scope, set())}, scope
            assert frame.width < whole[scope].width or scope == "district"
            if scope in starts:
                assert frame["date"].min() == starts[scope]
        got = decision_rows(evaluate_run(policy, narrow, auth, Settings(), day, day), day, day)
        want = decision_rows(evaluate_run(policy, whole, auth, Settings(), day, day), day, day)
        assert got == want


def test_the_classroom_frame_starts_at_its_own_rules_window() -> None:
    registry = Registry(POLICIES)
    day = D("2022-01-20")
    agreement = registry.get(AGREEMENT).policy
    starts = scope_starts(agreement, day)
    whole = day - dt.timedelta(days=decision_window(agreement))
    assert whole == starts["school"] < starts["classroom"] < day
    # a rule counting classrooms per school reads both scopes over the policy's whole window
    proposal = registry.get(PROPOSAL).policy
    window = day - dt.timedelta(days=decision_window(proposal))
    assert scope_starts(proposal, day) == {"school": window, "classroom": window}


def test_attributes_needed() -> None:
    registry = Registry(POLICIES)
    assert attributes_needed(registry.get(PROPOSAL).policy) == {
        "school": {"grade_band"},
        "classroom": {"parent"},
    }
    assert attributes_needed(registry.get(AGREEMENT).policy) == {}


def test_school_days_slack_by_calendar() -> None:
    """Lookbacks in school days under the engine's calendar of every weekday need only the
    weekend's slack; a calendar with holidays the longest holiday gap."""
    assert school_day_slack(Calendar()) == WEEKEND_SLACK
    assert school_day_slack(Calendar(holidays=frozenset({D("2021-12-24")}))) == SCHOOL_DAY_SLACK
    assert school_day_slack(Calendar(school_days=frozenset({D("2022-01-03")}))) == SCHOOL_DAY_SLACK
    policy = Registry(POLICIES).get(AGREEMENT).policy
    assert policy_window(policy, WEEKEND_SLACK) < policy_window(policy)
    # N weekdays back from any day span at most N x 7 / 5 + 2 calendar days
    for n in range(1, 30):
        for weekday in range(7):
            day = D("2022-01-03") + dt.timedelta(days=weekday)
            back, seen = day, 0
            while seen < n:
                back -= dt.timedelta(days=1)
                seen += back.weekday() < 5
            assert (day - back).days <= n * 7 // 5 + WEEKEND_SLACK


def test_the_digest_hashes_slices_as_the_whole_csv(
    district_store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inputs' digest, rendered a slice of rows at a time, equals the sha256 of each frame's
    whole CSV (the rendering every stored run's digest was made with)."""
    import hashlib

    summary = decide(district_store, Registry(POLICIES).get(AGREEMENT), DAYS[0])
    with district_store.connect() as conn:
        blob, stored = conn.exec_driver_sql(
            "SELECT inputs_parquet, inputs_sha256 FROM decision_run WHERE id = ?",
            (summary.run_id,),
        ).one()
    frames = unpack(bytes(blob))
    whole = hashlib.sha256()
    for scope in sorted(frames):
        frame = frames[scope]
        whole.update(f"[{scope}]\n".encode())
        whole.update(frame.select(sorted(frame.columns)).sort("unit", "date").write_csv().encode())
    assert inputs_digest(frames) == whole.hexdigest() == stored
    monkeypatch.setattr(record, "DIGEST_ROWS", 7)  # many slices, a partial last one
    assert frames["classroom"].height > 7 * 3
    assert DIGEST_ROWS > 7
    assert inputs_digest(frames) == stored
    empty = {"district": frames["district"].clear(), "school": frames["school"].head(1)}
    expected = hashlib.sha256()
    for scope in sorted(empty):
        frame = empty[scope]
        expected.update(f"[{scope}]\n".encode())
        expected.update(
            frame.select(sorted(frame.columns)).sort("unit", "date").write_csv().encode()
        )
    assert inputs_digest(empty) == expected.hexdigest()


def test_a_run_is_audited_with_the_authorisations_recorded_by_its_making(
    tmp_path: Path,
) -> None:
    # a run decides with the authorisations recorded by then: its audit, and an explanation
    # recomputed from its record, read those, not one recorded the next morning
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    fill_district_store(engine, tmp_path)
    registry = Registry(POLICIES)
    day = DAYS[-1]
    summary = decide(engine, registry.get(AGREEMENT), day)
    school = str(SCHOOLS["school_id"][0])
    answers.authorise(
        engine, registry.get(AGREEMENT), "teacher-absences", school, day, "CPS Tactical Team", "x"
    )
    with engine.connect() as conn:
        made = conn.execute(
            select(decision_run.c.created_at).where(decision_run.c.id == summary.run_id)
        ).scalar_one()
    assert authorisations(engine, AGREEMENT).height == 1
    assert authorisations(engine, AGREEMENT, made).height == 0
    assert authorisations(engine, AGREEMENT, made + dt.timedelta(days=1)).height == 1
    report = reproduce(engine, summary.run_id, registry)
    assert report.identical, report.render()
    engine.dispose()

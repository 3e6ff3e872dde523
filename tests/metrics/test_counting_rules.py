"""The event-derived metrics counted by a policy's rules (``counts:``): the same records give
the counts each policy's rules say, in memory, and through ``decide`` and the backtest from a
small store."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from sqlalchemy import Engine, select

from schoolmode.app.backtests import SweepRequest, _history, _own_histories, _own_point_histories
from schoolmode.backtest.run import run_backtest
from schoolmode.backtest.sweep import run_sweep
from schoolmode.decisions.audit import reproduce
from schoolmode.decisions.record import decide, frame_columns, input_frames, unpack
from schoolmode.importers import IMPORTERS
from schoolmode.importers.standard import StandardLayout
from schoolmode.metrics.school import SchoolData, classroom_metrics, school_metrics
from schoolmode.policy.counting import DEFAULTS, CountingRules, counting_rules
from schoolmode.policy.loader import Registry, default_policy_dir
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from schoolmode.store.service import run_import
from schoolmode.store.tables import decision_run
from schoolmode.synth.district import write_standard_files
from tests.conftest import FIXTURE_DATA
from tests.metrics.test_school_metrics import END, START, _by_day, _district

D = dt.date.fromisoformat
DATA = SchoolData.from_frames(**_district())


def _school(rules: CountingRules) -> pl.DataFrame:
    return school_metrics(DATA, START, END, rules)


def test_the_defaults_are_what_the_metrics_always_counted() -> None:
    assert _school(DEFAULTS).equals(school_metrics(DATA, START, END))
    s1 = _school(DEFAULTS)
    assert _by_day(s1, "S1", "covid_absent_teachers") == [0, 12, 0, 0, 0]


def test_the_absence_reasons_that_count() -> None:
    # 7 documented positive, 5 directed quarantine, 3 personal absences of S1's teachers
    only_positive = dataclasses.replace(DEFAULTS, absent_teacher_reasons=("documented_positive",))
    with_personal = dataclasses.replace(
        DEFAULTS, absent_teacher_reasons=(*DEFAULTS.absent_teacher_reasons, "personal")
    )
    assert _by_day(_school(only_positive), "S1", "covid_absent_teachers")[1] == 7
    assert _by_day(_school(with_personal), "S1", "covid_absent_teachers")[1] == 15
    # the substitutes of the counted absences: T-R13 and T-R14 (personal) were covered
    assert _by_day(_school(with_personal), "S1", "absences_covered_by_substitutes")[1] == 10
    # staff out: O1's order, and the counted absences (T-R01 also under an order: once)
    staff = dataclasses.replace(DEFAULTS, staff_out_reasons=("personal",))
    assert _by_day(_school(staff), "S1", "staff_isolation_quarantine") == [1, 5, 1, 1, 1]
    # the teachers' rule is untouched by the staff rule
    assert _by_day(_school(staff), "S1", "covid_absent_teachers")[1] == 12


def test_household_links_and_people_that_count() -> None:
    net = dataclasses.replace(DEFAULTS, school_cases_household="exclude")
    assert _by_day(_school(net), "S2", "school_cases") == [0, 1, 0, 1, 1]  # B is linked
    assert _by_day(_school(net), "S2", "household_linked_cases") == [0] * 5
    students = dataclasses.replace(DEFAULTS, school_cases_people=("students",))
    assert _by_day(_school(students), "S1", "school_cases") == [0, 0, 1, 1, 0]  # not T-R20
    staff = dataclasses.replace(DEFAULTS, school_cases_people=("staff",))
    assert _by_day(_school(staff), "S1", "school_cases") == [0, 0, 0, 1, 0]
    # the outbreak definition counting household-linked cases: A, B, C by 01-05 in Q1
    linked = dataclasses.replace(DEFAULTS, outbreak_household="count")
    assert _by_day(_school(linked), "S2", "in_outbreak") == [0, 0, 1, 1, 1]
    assert _by_day(_school(DEFAULTS), "S2", "in_outbreak") == [0, 0, 0, 1, 1]


def test_the_core_groups_cases() -> None:
    room = classroom_metrics(DATA, START, END)
    assert _by_day(room, "Q1", "group_size") == [31] * 5
    assert _by_day(room, "Q1", "core_group_cases") == [1, 1, 1, 1, 0]  # A, B, C, D by onset
    assert _by_day(room, "Q1", "qualifying_cases") == [1, 0, 1, 1, 0]  # not B
    linked = dataclasses.replace(DEFAULTS, qualifying_household="count")
    counted = classroom_metrics(DATA, START, END, linked)
    assert _by_day(counted, "Q1", "qualifying_cases") == [1, 1, 1, 1, 0]


# ------------------------------------------------------------------ decide and backtest

STAFF = "ctu-proposal-2021-12-30"
WIDER = "ctu-proposal-2021-12-30-wider"


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """SQLite: the CDPH fixture series and the small district of ``test_school_metrics``."""
    directory = tmp_path_factory.mktemp("counting")
    engine = make_engine(f"sqlite:///{directory / 'store.sqlite'}")
    upgrade(engine)
    for source in ("cdph-daily-testing", "cdph-daily-cases"):
        for path in IMPORTERS[source].default_paths(FIXTURE_DATA):
            run_import(engine, IMPORTERS[source], path)
    school = pl.DataFrame(
        {
            "school_id": ["S1", "S2"],
            "school_year": ["2021-2022"] * 2,
            "district_id": ["small"] * 2,
            "name": ["S1", "S2"],
            "level": ["ES"] * 2,
            "grades": ["K,1,2,3,4,5"] * 2,
            "enrolment": [400, 30],
        }
    )
    frames = {"school": school, **_district()}
    for path in write_standard_files(frames, directory / "standard"):
        run_import(engine, StandardLayout("small"), path)
    return engine


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """The shipped staff policy with its share at 30% (13 of S1's 50 staff out is 26%, 16 is
    32%), and a copy that also counts personal absences."""
    folder = tmp_path_factory.mktemp("policies")
    text = (default_policy_dir() / STAFF / "policy.yaml").read_text()
    for pid, reasons in ((STAFF, ""), (WIDER, ", personal")):
        own = text.replace(f"id: {STAFF}", f"id: {pid}", 1).replace("value: 20,", "value: 30,")
        own = own.replace(
            "reasons: [documented_positive, directed_quarantine_isolation]",
            f"reasons: [documented_positive, directed_quarantine_isolation{reasons}]",
            1,
        )
        (folder / pid).mkdir()
        (folder / pid / "policy.yaml").write_text(own)
    return Registry(folder)


def test_decide_counts_by_each_policys_rules(small_store: Engine, policies: Registry) -> None:
    day = D("2022-01-04")
    out = {}
    for pid in (STAFF, WIDER):
        loaded = policies.get(pid)
        frames = input_frames(
            small_store,
            START,
            day,
            set(),
            frame_columns(loaded.policy),
            rules=counting_rules(loaded.policy),
        )
        out[pid] = _by_day(frames["school"], "S1", "staff_isolation_quarantine")
        summary = decide(small_store, loaded, day)
        with small_store.connect() as conn:
            blob = conn.execute(
                select(decision_run.c.inputs_parquet).where(decision_run.c.id == summary.run_id)
            ).scalar_one()
        stored = unpack(bytes(blob))["school"]
        stored_day = stored.filter((pl.col("unit") == "S1") & (pl.col("date") == day))
        assert stored_day["staff_isolation_quarantine"].to_list() == [out[pid][-1]]
        # the audit reads the store again by the same rules: the same inputs
        report = reproduce(small_store, summary.run_id, policies)
        assert report.identical, report.render()
    assert out[STAFF] == [1, 13]
    assert out[WIDER] == [1, 16]  # and T-R13..T-R15's personal absences


def test_the_backtest_counts_by_each_policys_rules(small_store: Engine, policies: Registry) -> None:
    chosen = [policies.get(pid).policy for pid in (STAFF, WIDER)]
    history = _history(small_store, START, END, None)
    own = _own_histories(small_store, chosen, START, END, None)
    assert set(own) == {WIDER}  # the shipped policy counts as the defaults: the shared frames
    result = run_backtest(chosen, history, START, END, own_inputs=own)
    triggered, modes = {}, {}
    for run in result.runs:
        s1 = run.results["school"].filter(pl.col("unit") == "S1").sort("date")
        triggered[run.policy.id] = s1["trigger.staff-out"].to_list()
        modes[run.policy.id] = s1["mode"].to_list()
    assert triggered == {STAFF: [False] * 5, WIDER: [False, True, False, False, False]}
    assert modes[WIDER][2] == "remote"  # from the next day
    assert set(modes[STAFF]) == {"in_person"}


PROPOSAL = "ctu-proposal-2022-01-08"


def test_a_sweep_of_what_counts_counts_by_each_reading(
    small_store: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Sweeping a reading of ``counts:`` reads each point's frames by its own rules: the CTU
    proposal of 8 January 2022 made to count personal absences under its wider reading, at 30%
    of staff on one day (S1 on 2022-01-04: 13 of 50 out with O1's order and the documented
    absences, 16 with the personal ones)."""
    folder = tmp_path_factory.mktemp("proposal")
    text = (default_policy_dir() / PROPOSAL / "policy.yaml").read_text()
    text = text.replace(
        "directed_quarantine_isolation, self_reported_unconfirmed]",
        "directed_quarantine_isolation, personal]",
    )
    text = text.replace("value: 25, clause: School metric", "value: 30, clause: School metric")
    text = text.replace("value: 2, clause: School metric", "value: 1, clause: School metric")
    (folder / PROPOSAL).mkdir()
    (folder / PROPOSAL / "policy.yaml").write_text(text)
    policy = Registry(folder).get(PROPOSAL).policy
    req = SweepRequest(
        policy_ids=[PROPOSAL],
        param="staff_out_reasons",
        values=["documented", "with_self_reported"],
        start=START,
        end=END,
        out=folder,
    )
    own = _own_point_histories(small_store, [policy], req, None)
    assert set(own) == {(PROPOSAL, "with_self_reported")}
    history = _history(small_store, START, END, None)
    # the proposal's term opens on 2022-01-10: applied to the small district's week on request
    table = run_sweep(
        [policy],
        req.param,
        req.values,
        history,
        START,
        END,
        own_inputs=own,
        apply_over_whole_period=True,
    )
    remote = dict(zip(table["value"], table["schools ever remote"], strict=True))
    assert remote == {"documented": 0, "with_self_reported": 1}

"""Grades as closure units in the simulator (issue 16, item 2): each population declares its
homerooms' grades; the loop records the grade metrics, and a closed grade closes the in-school
contacts of its homerooms' members and no one else's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolmode.engine.evaluate import evaluate
from schoolmode.pathogen import load_pathogen
from schoolmode.policy import model as m
from schoolmode.policy.loader import load_policy_path
from schoolmode.policy.model import Policy
from schoolmode.sim.day_state import DayState
from schoolmode.sim.gates import _closed, open_gates
from schoolmode.sim.groups import Groups
from schoolmode.sim.loop import run_policy
from schoolmode.sim.network import Population, from_sociopatterns
from schoolmode.sim.outcomes import Tally
from schoolmode.sim.population_spec import from_files
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.setup import setup
from tests.sim.test_any_population import made_up_school

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "reactive"


def _example(name: str) -> Policy:
    return load_policy_path(EXAMPLES / name / "policy.yaml").policy


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Population:
    """60 pupils in classes 1A, 1B, 2A, 2B (grades 1 and 2) and four teachers."""
    return from_sociopatterns(made_up_school(tmp_path_factory.mktemp("sp") / "school.csv"))


def test_a_sociopatterns_school_declares_its_classes_grades(school: Population) -> None:
    assert school.classroom_ids == ["1A", "1B", "2A", "2B"]
    assert school.classroom_grades == ("1", "1", "2", "2")
    groups = Groups.build(school, school.agents, {})
    name = school.school_ids[0]
    assert groups.grade_ids == [f"{name}/1", f"{name}/2"]
    assert groups.room_grade.tolist() == [0, 0, 1, 1]
    assert groups.grade_school.tolist() == [0, 0]
    assert groups.enrolled_g.tolist() == [30, 30]
    assert groups.by_grade(np.array([1, 2, 0, 5])).tolist() == [3, 5]


def test_the_file_formats_grade_column(tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "person,role,school,classroom,grade\n"
        "a,student,S,A,1\nb,student,S,A,\nc,student,S,B,1\nd,student,S,C,2\n"
        "e,student,S,D,\nf,student,T,E,1\n"
    )
    edges = tmp_path / "edges.csv"
    edges.write_text("a,b,layer,role,weight\na,b,class,homeroom,0.4\n")
    population = from_files(people, edges)
    assert population.classroom_grades == ("1", "1", "2", "", "1")
    groups = Groups.build(population, population.agents, {})
    # a classroom without a grade is a grade of its own; the same label in two schools is two
    assert groups.grade_ids == ["S/1", "S/2", "S/D", "T/1"]
    assert groups.room_grade.tolist() == [0, 0, 1, 2, 3]
    assert groups.grade_school.tolist() == [0, 0, 0, 1]


def test_without_grades_each_classroom_is_its_own(school: Population) -> None:
    from dataclasses import replace

    groups = Groups.build(replace(school, classroom_grades=()), school.agents, {})
    name = school.school_ids[0]
    assert groups.grade_ids == [f"{name}/{room}" for room in school.classroom_ids]
    assert groups.room_grade.tolist() == [0, 1, 2, 3]


def test_a_closed_grade_closes_exactly_its_homerooms(school: Population) -> None:
    policy = _example("grade-closure")
    scenario = Scenario(start=dt.date(2009, 10, 5), days=5, beta=0.5, initial_infections=1)
    run = setup(school, load_pathogen(scenario.pathogen), scenario, policy, seed=1)
    assert run.engine is not None
    g = run.groups
    closed_mode = [mode.id for mode in policy.modes].index("grade_closed")
    day = 0  # a Monday, a school day
    run.engine.modes["grade"][1, day] = closed_mode  # grade 2
    schools, grades, rooms = _closed(run, day)
    assert schools.tolist() == [False]
    assert grades.tolist() == [False, True]
    assert rooms.tolist() == [False, False, True, True]
    st = DayState.new(len(school.network.layers), g.n, g.hh_members[0].size - 1)
    tally = Tally(scenario.days, g.n_schools, g.n_rooms)
    open_gates(run, st, tally, day)
    in_school = st.gate[run.school_layers]
    members = (g.room >= 0) & (g.is_student | g.is_teacher)
    grade_two = members & np.isin(g.room, [2, 3])
    assert not in_school[:, grade_two].any()  # every school layer closed for grade 2's people
    assert in_school[:, members & ~grade_two].all()  # open for everyone of grade 1
    assert tally.rooms_remote[day] == 2
    assert tally.grades_remote[day] == 1
    assert tally.closed_student_days == int((grade_two & g.is_student).sum())


def test_a_grade_rule_reads_the_grade_metrics_in_the_loop(school: Population) -> None:
    scenario = Scenario(
        start=dt.date(2009, 10, 5),
        days=40,
        beta=3.0,
        initial_infections=2,
        vaccination={"initial_share": {}},
    )
    pathogen = load_pathogen(scenario.pathogen)
    runs = [run_policy(school, pathogen, scenario, _example("grade-closure"), s) for s in (1, 2, 3)]
    assert all(not r.missing_metrics for r in runs)
    closed = [r for r in runs if r.outcomes["grade_days_remote"] > 0]
    assert closed, "no run closed a grade"
    for r in closed:
        assert r.engine is not None
        cases = r.engine.metrics["grade"]["positive_cases_reported"]
        rooms = r.engine.metrics["classroom"]["positive_cases_reported"]
        assert np.array_equal(cases, rooms.reshape(2, 2, -1).sum(axis=1))
        # a grade is closed two homerooms at a time (both its classes)
        assert r.outcomes["classroom_days_remote"] == 2 * r.outcomes["grade_days_remote"]


def _modes(policy: m.Policy, scope: str, frame: pl.DataFrame) -> np.ndarray:
    """(units, days) bool: closed under ``policy``, units in sorted order."""
    result = evaluate(policy, {scope: frame}, strict=True).frame(scope).sort("unit", "date")
    closed = result["mode"].cast(pl.String).str.ends_with("_closed").to_numpy()
    return closed.reshape(frame["unit"].n_unique(), -1)


@settings(max_examples=40, deadline=None)
@given(
    cases=st.lists(st.lists(st.integers(0, 2), min_size=20, max_size=20), min_size=4, max_size=4),
    closed_days=st.integers(1, 7),
)
def test_grade_closure_never_closes_less_than_class_closure(
    cases: list[list[int]], closed_days: int
) -> None:
    """For the same detections (each classroom's reported cases by day) and the same number of
    days, every classroom-day the class-closure example closes is closed by the grade-closure
    example: a grade's cases are at least each of its classrooms', and a closure lasts until
    ``closed_days`` days without a new case (a fixed hold that a later case does not extend is
    not so: a case in a second class during its grade's closure closes that class past the
    grade's end)."""
    start = dt.date(2021, 3, 1)
    days = [start + dt.timedelta(days=k) for k in range(20)]
    rooms = ["1A", "1B", "2A", "2B"]
    room_frame = pl.DataFrame(
        {
            "unit": [r for r in rooms for _ in days],
            "date": days * len(rooms),
            "positive_cases_reported": [c for row in cases for c in row],
        }
    )
    grade_of = {"1A": "1", "1B": "1", "2A": "2", "2B": "2"}
    grade_frame = (
        room_frame.with_columns(pl.col("unit").replace_strict(grade_of))
        .group_by("unit", "date")
        .agg(pl.col("positive_cases_reported").sum())
        .sort("unit", "date")
    )

    def held(policy: Policy) -> Policy:
        params = dict(policy.parameters)
        first = params["closed_days"].values[0].model_copy(update={"value": closed_days})
        params["closed_days"] = params["closed_days"].model_copy(update={"values": [first]})
        return policy.model_copy(update={"parameters": params})

    by_class = _modes(held(_example("class-closure")), "classroom", room_frame)
    by_grade = _modes(held(_example("grade-closure")), "grade", grade_frame)
    assert not (by_class & ~by_grade[[0, 0, 1, 1]]).any()
    assert by_grade.sum() >= by_class.reshape(2, 2, -1).any(axis=1).sum()


def test_a_policy_diff_shows_the_grade_rules() -> None:
    from schoolmode.policy.diff import policy_diff

    rows = policy_diff(_example("class-closure"), _example("grade-closure"))
    grade = [r for r in rows if r.section == "scope:grade"]
    assert grade
    assert (grade[0].left, grade[0].right) == ("no rule", "1 rule(s)")

"""Population spec files (sim/population_spec.py): a SocioPatterns school and a population in the
file format, with a weekly pattern, from YAML; errors name the file, line or row and field."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from schoolmode.pathogen import load_pathogen
from schoolmode.policy.errors import InputDataError, PolicyFileError
from schoolmode.policy.loader import shipped_registry
from schoolmode.sim.loop import run_policy
from schoolmode.sim.network import SCHOOL_LAYERS
from schoolmode.sim.population_spec import (
    OFF_SCHOOL_LAYER,
    from_files,
    load_population_spec,
    load_spec,
)
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.setup import run_calendar
from tests.sim.test_any_population import made_up_school

AGREEMENT = "cps-ctu-2022-01-10"
MONDAY = dt.date(2022, 1, 10)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def small_school_files(folder: Path, classes: int = 3, size: int = 12) -> tuple[Path, Path]:
    """People and edges in the file format: ``classes`` classes of ``size`` students, no
    teachers, no households; a classroom layer (cliques) and a few contacts across classes."""
    people = [(f"p{k}", f"c{k // size}") for k in range(classes * size)]
    rows = ["person,classroom,age"] + [f"{p},{c},9" for p, c in people]
    (folder / "people.csv").write_text("\n".join(rows) + "\n")
    edges = ["a,b,layer,role,weight"]
    for c in range(classes):
        members = [p for p, room in people if room == f"c{c}"]
        edges += [
            f"{a},{b},class,homeroom,0.3" for i, a in enumerate(members) for b in members[i + 1 :]
        ]
    for k in range(classes * size - size):
        edges.append(f"p{k},p{k + size},corridor,school,0.05")
    (folder / "edges.csv").write_text("\n".join(edges) + "\n")
    return folder / "people.csv", folder / "edges.csv"


def test_a_sociopatterns_spec_repeats_school_days_on_its_weekdays(tmp_path: Path) -> None:
    made_up_school(tmp_path / "school.csv")
    spec = write(
        tmp_path / "school.yaml",
        """\
        kind: sociopatterns
        contacts: school.csv
        week:
          school_days: [mon, wed, fri]
          off_school: community
          contacts: 3
          weight: 0.05
        """,
    )
    population = load_population_spec(str(spec)).population
    assert population.school_weekdays == (0, 2, 4)
    assert population.holidays is False
    assert population.network.layers[-1] == OFF_SCHOOL_LAYER
    assert population.roles()[-1] == "community"
    assert population.network.weights[-1] == pytest.approx(0.05)
    assert population.network.edges(OFF_SCHOOL_LAYER) > 0
    scenario = Scenario(start=MONDAY, days=14)
    school = run_calendar(population, scenario)
    weekdays = [(MONDAY + dt.timedelta(days=d)).weekday() for d in range(14)]
    assert school.tolist() == [w in (0, 2, 4) for w in weekdays]


def test_school_time_is_replaced_on_days_without_school(tmp_path: Path) -> None:
    people, edges = small_school_files(tmp_path)
    spec = write(
        tmp_path / "pop.yaml",
        f"""\
        kind: file
        people: {people.name}
        edges: {edges.name}
        week: {{school_days: [mon, tue, wed, thu, fri], off_school: household, household_size: 4}}
        """,
    )
    population = load_population_spec(str(spec)).population
    household = population.agents["household"]
    assert np.bincount(household).tolist() == [4] * 9
    scenario = Scenario(start=MONDAY, days=7, beta=0.2, initial_infections=2)
    run = run_policy(
        population, load_pathogen(scenario.pathogen), scenario, None, 1, keep_gates=True
    )
    off = population.off_school_layers[0]
    school = population.layers_of(*SCHOOL_LAYERS)
    homeroom = population.layers_of("homeroom")[0]
    for day, gate in enumerate(run.gates):
        orders = run.orders[day]
        at_school = gate[homeroom]  # every agent of this population has a homeroom
        if day < 5:  # Monday to Friday
            assert at_school.sum() > 20
        else:
            assert not gate[school].any()
        # the household replaces school time: open for whoever is not at school, unless
        # isolated or in quarantine
        assert np.array_equal(gate[off], ~at_school & ~orders)


def test_a_file_population_without_households_or_staff_runs_a_policy(tmp_path: Path) -> None:
    people, edges = small_school_files(tmp_path, classes=4, size=15)
    population = from_files(people, edges)
    assert population.school_ids == ["people"]
    assert population.classroom_ids == ["c0", "c1", "c2", "c3"]
    assert population.roles() == ("homeroom", "school")
    assert (population.agents["household"] == -1).all()
    scenario = Scenario(
        days=40, beta=0.5, initial_infections=4, seeds=1, vaccination={"initial_share": {}}
    )
    registry = shipped_registry()
    policy = registry.get(AGREEMENT).policy
    pathogen = load_pathogen(scenario.pathogen)
    runs = [run_policy(population, pathogen, scenario, policy, s, registry) for s in (1, 2, 3)]
    reported = [r for r in runs if r.outcomes["cases_reported"] > 0]
    assert reported
    assert any(r.outcomes["classroom_days_remote"] > 0 for r in reported)


def test_a_synthetic_district_spec_keeps_its_households(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "d.yaml",
        "kind: synthetic-district\nweek: {off_school: community}\n",
    )
    with pytest.raises(
        PolicyFileError, match=r"d.yaml:2: week: off_school: the synthetic district has households"
    ):
        load_spec(spec)


def test_spec_errors_name_the_file_line_and_field(tmp_path: Path) -> None:
    spec = write(tmp_path / "bad.yaml", "kind: sociopatterns\ncontacts: x.csv\nweeks: {}\n")
    with pytest.raises(PolicyFileError, match=r"bad.yaml:3: weeks"):
        load_spec(spec)
    spec = write(tmp_path / "kind.yaml", "kind: classroom\n")
    with pytest.raises(
        PolicyFileError, match=r"kind.yaml:1: kind: 'classroom': expected one of synthetic-district"
    ):
        load_spec(spec)
    spec = write(
        tmp_path / "day.yaml",
        "kind: file\npeople: p.csv\nedges: e.csv\nweek:\n  school_days: [monday]\n",
    )
    with pytest.raises(PolicyFileError, match=r"day.yaml:5: week.school_days\[0\]"):
        load_spec(spec)
    spec = write(tmp_path / "gone.yaml", "kind: sociopatterns\ncontacts: missing.csv\n")
    with pytest.raises(InputDataError, match=r"gone.yaml: contacts: no file .*missing.csv"):
        load_population_spec(str(spec))


@pytest.mark.parametrize(
    ("people", "edges", "error"),
    [
        (
            "person,role\np1,student\np2,teacher\n",
            "",
            r"people.csv row 2 \(line 3\): role 'teacher'",
        ),
        (
            "person,age\np1,9\np2,nine\n",
            "",
            r"people.csv row 2 \(line 3\): age 'nine': not a whole",
        ),
        ("person\np1\np1\n", "", r"people.csv row 1 \(line 2\): person 'p1': listed twice"),
        ("name\np1\n", "", r"people.csv: no column person"),
        (
            "person\np1\np2\n",
            "a,b,layer,role,weight\np1,p2,x,homeroom,0.3\np1,p9,x,homeroom,0.3\n",
            r"edges.csv row 2 \(line 3\): b 'p9': not a person",
        ),
        (
            "person\np1\np2\np3\n",
            "a,b,layer,role,weight\np1,p2,x,homeroom,0.3\np1,p3,x,homeroom,0.2\n",
            r"edges.csv row 2 \(line 3\): weight 0.2: differs from an earlier row of layer x",
        ),
        (
            "person\np1\np2\n",
            "a,b,layer,role,weight\np1,p2,x,canteen,0.3\n",
            r"edges.csv row 1 \(line 2\): role 'canteen': expected one of household",
        ),
        (
            "person\np1\np2\n",
            "a,b,layer,role,weight\np1,p2,x,homeroom,-1\n",
            r"edges.csv row 1 \(line 2\): weight -1.0: a weight is above 0",
        ),
        ("person\np1\np2\n", "a,b,layer,role\np1,p2,x,homeroom\n", r"edges.csv: no column weight"),
    ],
)
def test_file_format_errors_name_the_file_row_and_field(
    tmp_path: Path, people: str, edges: str, error: str
) -> None:
    (tmp_path / "people.csv").write_text(people)
    (tmp_path / "edges.csv").write_text(edges or "a,b,layer,role,weight\np1,p1,x,homeroom,1\n")
    with pytest.raises(InputDataError, match=error):
        from_files(tmp_path / "people.csv", tmp_path / "edges.csv")


def test_parquet_files_read_as_csv_ones(tmp_path: Path) -> None:
    people, edges = small_school_files(tmp_path)
    pl.read_csv(people).write_parquet(tmp_path / "people.parquet")
    pl.read_csv(edges).write_parquet(tmp_path / "edges.parquet")
    a = from_files(people, edges)
    b = from_files(tmp_path / "people.parquet", tmp_path / "edges.parquet")
    assert a.network.layers == b.network.layers
    assert np.array_equal(a.network.indptr, b.network.indptr)
    assert np.array_equal(a.network.indices, b.network.indices)
    assert np.array_equal(a.network.weights, b.network.weights)
    assert np.array_equal(a.agents["classroom"], b.agents["classroom"])


def test_recorded_days_repeat_over_the_school_days(tmp_path: Path) -> None:
    """``recorded_days: repeat``: each recorded day's contacts have their own layers, open on
    the run's school days in turn (Monday day 1, Tuesday day 2, Wednesday day 1, ...), none at
    the weekend."""
    made_up_school(tmp_path / "school.csv")  # two recorded days
    spec = write(
        tmp_path / "school.yaml",
        "kind: sociopatterns\ncontacts: school.csv\nrecorded_days: repeat\n",
    )
    population = load_population_spec(str(spec)).population
    mean = load_population_spec(
        str(write(tmp_path / "mean.yaml", "kind: sociopatterns\ncontacts: school.csv\n"))
    ).population
    layers = population.network.layers
    assert population.recorded_days == 2
    assert {name.rsplit(", ", 1)[1] for name in layers} == {"day 1", "day 2"}
    assert population.layer_day == tuple(int(n[-1]) - 1 for n in layers)
    assert mean.layer_day == ()
    # every pair met on some day: the days' edges together are the mean network's pairs
    day_edges = sum(population.network.edges(name) for name in layers)
    assert day_edges >= sum(mean.network.edges(name) for name in mean.network.layers)
    scenario = Scenario(start=MONDAY, days=14, beta=0.2, initial_infections=2)
    run = run_policy(
        population, load_pathogen(scenario.pathogen), scenario, None, 1, keep_gates=True
    )
    day = np.array(population.layer_day)
    school_days = 0
    for d, gate in enumerate(run.gates):
        open_layers = set(np.flatnonzero(gate.any(axis=1)).tolist())
        if (MONDAY + dt.timedelta(days=d)).weekday() >= 5:
            assert not open_layers
            continue
        expected = school_days % 2
        assert open_layers, f"day {d}: no layer open"
        assert {int(day[i]) for i in open_layers} == {expected}
        school_days += 1
    assert school_days == 10


def test_an_edited_spec_is_read_again_and_households_are_not_made_twice(tmp_path: Path) -> None:
    people, edges = small_school_files(tmp_path)
    text = f"kind: file\npeople: {people.name}\nedges: {edges.name}\n"
    spec = write(tmp_path / "pop.yaml", text)
    assert load_population_spec(str(spec)).population.school_weekdays == (0, 1, 2, 3, 4)
    write(spec, text + "week: {school_days: [sat], off_school: household}\n" + "# edited\n")
    edited = load_population_spec(str(spec)).population
    assert edited.school_weekdays == (5,)
    assert edited.network.layers[-1] == OFF_SCHOOL_LAYER
    with_households = pl.read_csv(people).with_columns(pl.lit("h1").alias("household"))
    with_households.write_csv(people)
    write(spec, text + "week: {off_school: household}\n")
    with pytest.raises(InputDataError, match=r"pop.yaml: week.off_school: household: the pop"):
        load_population_spec(str(spec))

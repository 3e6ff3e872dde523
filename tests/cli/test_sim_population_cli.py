"""``schoolmode sim run|compare|sweep --population SPEC.yaml`` from files only: a made-up school in
the SocioPatterns format (contact list and metadata file, never the real CC BY-NC-SA data) with a
class-closure policy written here, outside the shipped folder; a ``kind: file`` population
without households or staff."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.sim.outbreaks import RUN_FIELDS

CLASS_CLOSURE = """\
id: test-class-closure
title: Two reported cases in a class within 7 days close the class for 5 days
kind: guidance
jurisdiction: Made-up school (test)
parties: [Test]
status: published
version: 1
term: {from: 2009-01-01}
summary: A class with 2 or more cases reported within 7 days closes for 5 calendar days.
sources:
  test:
    title: Written by the test
    url: https://example.org/class-closure
    published: 2009-01-01
modes:
  - {id: in_person, label: In person}
  - {id: class_closed, label: Class closed}
metrics:
  positive_cases_reported: Positive cases reported that day among the people of a class.
parameters:
  cases:
    description: Cases reported in a class within the window that close it.
    unit: count
    values:
      - {from: 2009-01-01, value: 2, clause: test, source: test, confidence: S}
  window_days:
    description: Days of the window.
    unit: days
    values:
      - {from: 2009-01-01, value: 7, clause: test, source: test, confidence: S}
  closed_days:
    description: Days a class stays closed.
    unit: days
    values:
      - {from: 2009-01-01, value: 5, clause: test, source: test, confidence: S}
rules:
  - id: close-class
    title: Two cases in a class within a week close it
    scope: classroom
    clause: test
    source: test
    confidence: S
    when:
      threshold:
        of: {window_sum: {of: {metric: positive_cases_reported}, days: {param: window_days}}}
        op: ">="
        value: {param: cases}
    effect: {mode: class_closed, action: automatic}
    timing:
      min_duration: {days: {param: closed_days}, unit: calendar_days}
      max_duration: {days: {param: closed_days}, unit: calendar_days}
      exit_when: min_duration_elapsed
"""


def made_up_school(folder: Path) -> tuple[Path, Path]:
    """Two recorded days of face-to-face contacts in the SocioPatterns layout (``t i j Ci Cj``)
    and a metadata file (``i<TAB>class<TAB>sex``): 80 pupils in four classes of two grades and
    four teachers; contacts mostly within a class, teachers with everyone."""
    rnd = random.Random(11)
    classes = ["1A", "1B", "2A", "2B"]
    people = [(p, classes[(p - 1) // 20]) for p in range(1, 81)]
    people += [(81 + k, "Teachers") for k in range(4)]
    lines = []
    for day in range(2):
        for t in range(day * 86_400 + 30_000, day * 86_400 + 30_000 + 6 * 3600, 20):
            for _ in range(3):
                a, b = rnd.sample(people, 2)
                across = a[1] != b[1] and "Teachers" not in (a[1], b[1])
                if across and rnd.random() < 0.8:
                    continue
                lines.append(f"{t}\t{a[0]}\t{b[0]}\t{a[1]}\t{b[1]}")
    contacts = folder / "school.csv"
    contacts.write_text("\n".join(lines) + "\n")
    metadata = folder / "school-classes.txt"
    metadata.write_text("".join(f"{p}\t{c}\t{'MF'[p % 2]}\n" for p, c in people))
    return contacts, metadata


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def school(tmp_path: Path) -> tuple[Path, Path]:
    """The spec of the made-up school (school days Monday to Friday, community contacts on
    the days out of school) and the class-closure policy, both in this test's folder."""
    made_up_school(tmp_path)
    spec = write(
        tmp_path / "school.yaml",
        """\
        kind: sociopatterns
        contacts: school.csv
        metadata: school-classes.txt
        week:
          school_days: [mon, tue, wed, thu, fri]
          off_school: community
          contacts: 2
        """,
    )
    policy = tmp_path / "my-policies" / "class-closure"
    policy.mkdir(parents=True)
    (policy / "policy.yaml").write_text(CLASS_CLOSURE)
    return spec, policy / "policy.yaml"


def test_sim_run_on_a_sociopatterns_school_with_a_class_closure_policy_file(
    tmp_path: Path, school: tuple[Path, Path]
) -> None:
    spec, policy = school
    out = tmp_path / "out"
    args = ["sim", "run", "--population", str(spec), "--policy", str(policy)]
    args += ["--param", "initial_infections=2", "--param", "beta=3", "--seeds", "8"]
    args += ["--param", "vaccination.initial_share={}", "--param", "start=2009-10-05"]
    args += ["--days", "40", "--large", "10", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "test-class-closure: infections" in result.output
    runs = pl.read_csv(out / "runs.csv")
    assert runs.height == 8
    assert runs["policy"].unique().to_list() == ["test-class-closure"]
    assert set(RUN_FIELDS) <= set(runs.columns)
    # the class-closure rule closed classes in some runs, and never the school
    assert runs["classroom_days_remote"].sum() > 0
    assert runs["school_days_remote"].sum() == 0
    summary = pl.read_csv(out / "outbreaks.csv").row(0, named=True)
    assert summary["large_threshold"] == 10
    assert summary["runs"] == 8
    page = (out / "report.md").read_text()
    assert "84 agents in 1 schools" in page


def test_sim_compare_the_policy_file_with_no_policy_on_the_same_seeds(
    tmp_path: Path, school: tuple[Path, Path]
) -> None:
    spec, policy = school
    out = tmp_path / "out"
    args = ["sim", "compare", "--population", str(spec), "--policies", f"{policy},none"]
    args += ["--param", "initial_infections=2", "--param", "beta=3", "--seeds", "4"]
    args += ["--param", "start=2009-10-05", "--days", "30", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    runs = pl.read_csv(out / "runs.csv")
    assert sorted(runs["policy"].unique().to_list()) == ["none", "test-class-closure"]
    none = runs.filter(pl.col("policy") == "none")
    closing = runs.filter(pl.col("policy") == "test-class-closure")
    assert none["classroom_days_remote"].sum() == 0
    assert closing["classroom_days_remote"].sum() > 0
    assert none["seed"].to_list() == closing["seed"].to_list()


def test_sim_sweep_on_a_population_spec_with_a_policy_file(
    tmp_path: Path, school: tuple[Path, Path]
) -> None:
    spec, policy = school
    out = tmp_path / "out"
    args = ["sim", "sweep", "--population", str(spec), "--policies", str(policy)]
    args += ["--param", "beta=1,3", "--seeds", "2", "--days", "20", "--workers", "0"]
    args += ["--scenario", str(write(tmp_path / "sc.yaml", "initial_infections: 2\n"))]
    args += ["--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = pl.read_csv(out / "sweep.csv")
    assert rows.height == 4
    assert rows["policy"].unique().to_list() == ["test-class-closure"]
    assert sorted(rows["value"].unique().to_list()) == [1.0, 3.0]


def test_a_file_population_without_households_or_staff(tmp_path: Path) -> None:
    size, classes = 15, 3
    people = ["person,classroom"] + [f"s{k},room{k // size}" for k in range(size * classes)]
    (tmp_path / "people.csv").write_text("\n".join(people) + "\n")
    edges = ["a,b,layer,role,weight"]
    for c in range(classes):
        members = [f"s{k}" for k in range(c * size, (c + 1) * size)]
        edges += [
            f"{a},{b},class,homeroom,0.4" for i, a in enumerate(members) for b in members[i + 1 :]
        ]
    edges += [f"s{k},s{k + size},hall,school,0.05" for k in range(size * (classes - 1))]
    (tmp_path / "edges.csv").write_text("\n".join(edges) + "\n")
    spec = write(tmp_path / "pop.yaml", "kind: file\npeople: people.csv\nedges: edges.csv\n")
    out = tmp_path / "out"
    args = ["sim", "run", "--population", str(spec), "--policy", "cps-ctu-2022-01-10"]
    args += ["--param", "initial_infections=3", "--param", "beta=0.5", "--seeds", "3"]
    args += ["--param", "vaccination.initial_share={}", "--days", "30", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    runs = pl.read_csv(out / "runs.csv")
    assert runs.height == 3
    assert runs["first_case_day"].drop_nulls().len() > 0  # a case reported: no household crash
    assert "45 agents in 1 schools" in (out / "report.md").read_text()


def test_population_errors_name_the_file_and_field(tmp_path: Path) -> None:
    spec = write(tmp_path / "pop.yaml", "kind: sociopatterns\ncontact: school.csv\n")
    result = CliRunner().invoke(app, ["sim", "run", "--population", str(spec), "--policy", "none"])
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    assert "pop.yaml:2: contact" in text
    both = ["sim", "run", "--population", str(spec), "--policy", "none", "--schools", "3"]
    result = CliRunner().invoke(app, both)
    assert result.exit_code != 0
    assert "drop --schools" in " ".join(result.output.split())

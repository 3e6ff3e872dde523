"""Reactive closure from files only (issue 16, item 2): ``schoolmode sim run --population
SPEC --policy FILE`` with the grade- and school-closure examples of docs/examples/reactive on a
made-up school in the SocioPatterns layout (four classes of two grades) writes the per-run rows
and outbreak statistics; the examples' worked cases pass."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.sim.outbreaks import RUN_FIELDS
from schoolmode.sim.population_spec import load_spec
from tests.cli.test_sim_population_cli import made_up_school, write

DOCS = Path(__file__).resolve().parents[2] / "docs" / "examples"
REACTIVE = DOCS / "reactive"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    made_up_school(tmp_path)
    return write(
        tmp_path / "school.yaml",
        """\
        kind: sociopatterns
        contacts: school.csv
        metadata: school-classes.txt
        week: {school_days: [mon, tue, wed, thu, fri], off_school: community, contacts: 2}
        """,
    )


def _run(spec: Path, policy: str, out: Path) -> pl.DataFrame:
    args = ["sim", "run", "--population", str(spec), "--policy", policy]
    args += ["--scenario", str(REACTIVE / "scenario.yaml"), "--param", "initial_infections=2"]
    args += ["--param", "beta=3", "--seeds", "6", "--days", "40", "--large", "10"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    runs = pl.read_csv(out / "runs.csv")
    assert runs.height == 6
    assert set(RUN_FIELDS) <= set(runs.columns)
    summary = pl.read_csv(out / "outbreaks.csv").row(0, named=True)
    assert (summary["runs"], summary["large_threshold"]) == (6, 10)
    assert "large outbreaks (at least 10 infections)" in result.output
    return runs


def test_grade_closure_from_files_closes_both_classes_of_a_grade(
    tmp_path: Path, spec: Path
) -> None:
    runs = _run(spec, str(REACTIVE / "grade-closure" / "policy.yaml"), tmp_path / "out")
    assert runs["policy"].unique().to_list() == ["example-grade-closure"]
    assert runs["grade_days_remote"].sum() > 0
    assert runs["school_days_remote"].sum() == 0
    # each grade of the made-up school has two classes: a closed grade is two closed classes
    assert (runs["classroom_days_remote"] == 2 * runs["grade_days_remote"]).all()
    closed = runs.filter(pl.col("grade_days_remote") > 0)
    assert (closed["closure_class_days_per_student"] > 0).all()


def test_school_closure_from_files_closes_every_grade_and_class(tmp_path: Path, spec: Path) -> None:
    runs = _run(spec, str(REACTIVE / "school-closure"), tmp_path / "out")
    assert runs["policy"].unique().to_list() == ["example-school-closure"]
    assert runs["school_days_remote"].sum() > 0
    assert (runs["grade_days_remote"] == 2 * runs["school_days_remote"]).all()
    assert (runs["classroom_days_remote"] == 4 * runs["school_days_remote"]).all()


def test_the_reactive_examples_worked_cases_pass() -> None:
    result = CliRunner().invoke(app, ["policy", "test", str(REACTIVE)])
    assert result.exit_code == 0, result.output
    assert "9 passed, 0 failed" in result.output


def test_the_primary_school_spec_points_to_the_fetch_cache() -> None:
    spec = load_spec(DOCS / "sociopatterns-primary-school.yaml")
    cached = Path.home() / ".cache/schoolmode/fetch/sociopatterns-school-contacts"
    assert spec.kind == "sociopatterns"
    assert spec.contacts == cached / "primaryschool.csv.gz"
    assert spec.week.weekdays() == (0, 1, 3, 4)

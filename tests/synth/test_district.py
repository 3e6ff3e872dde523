"""The synthetic district: determinism, counts that add up, households, standard files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from schoolmode.cli.app import app
from schoolmode.importers.cps import SchoolProfiles
from schoolmode.importers.standard import StandardLayout
from schoolmode.standard.batch import FileValidationError, validate_batch
from schoolmode.synth.district import (
    SynthConfig,
    instructional_days,
    synth_absences,
    synth_district,
    write_standard_files,
)

PROFILES = (
    Path(__file__).resolve().parents[1]
    / "fixtures/shared/data/cps-schools"
    / "Chicago_Public_Schools_-_School_Profile_Information_SY2122.csv"
)


@pytest.fixture(scope="module")
def schools() -> pl.DataFrame:
    return SchoolProfiles().parse(PROFILES).frame


def test_same_seed_identical_rows_other_seed_different(schools: pl.DataFrame) -> None:
    a = synth_district(schools, SynthConfig(seed=7))
    b = synth_district(schools, SynthConfig(seed=7))
    c = synth_district(schools, SynthConfig(seed=8))
    assert a.frames.keys() == b.frames.keys()
    for name in a.frames:
        assert a.frames[name].equals(b.frames[name]), name
    assert not a.frames["person"].equals(c.frames["person"])
    assert synth_absences(a, SynthConfig(seed=7)).equals(synth_absences(b, SynthConfig(seed=7)))


def test_counts_add_up_to_the_profiles(schools: pl.DataFrame) -> None:
    district = synth_district(schools)
    f = district.frames
    per_school = (
        f["enrolment"]
        .join(f["classroom"], on="classroom_id")
        .group_by("school_id")
        .len()
        .join(schools.select("school_id", "enrolment"), on="school_id", how="right")
    )
    assert per_school.filter(pl.col("len").fill_null(0) != pl.col("enrolment")).height == 0
    assert district.students == schools["enrolment"].sum() == 5106
    sizes = f["enrolment"].group_by("classroom_id").len().join(f["classroom"], on="classroom_id")
    assert (sizes["len"] <= sizes["capacity"]).all()
    # one classroom teacher per homeroom, every homeroom has one
    teachers = f["staff_assignment"].filter(pl.col("role") == "classroom_teacher")
    assert teachers["classroom_id"].n_unique() == teachers.height == f["classroom"].height
    others = f["staff_assignment"].filter(pl.col("role") == "other_staff")
    assert others["classroom_id"].null_count() == others.height
    assert district.staff == teachers.height + others.height == f["person"].height - 5106
    # grades only among the school's grades
    grades = f["classroom"].join(schools.select("school_id", "grades"), on="school_id")
    assert all(g in gs.split(",") for g, gs in grades.select("grade", "grades").iter_rows())
    ids = f["person"]["person_id"]
    assert ids.n_unique() == ids.len()
    assert ids.str.contains(r"^P\d{7}$").all()


def test_households_live_in_the_school_zip_and_siblings_cross_schools(
    schools: pl.DataFrame,
) -> None:
    f = synth_district(schools).frames
    kids = (
        f["person"]
        .filter(pl.col("role") == "student")
        .join(f["enrolment"], on="person_id")
        .join(f["classroom"], on="classroom_id")
        .join(schools.select("school_id", pl.col("zip").alias("school_zip")), on="school_id")
        .join(f["household"], on="household_id")
    )
    assert kids.height == 5106
    assert (kids["zip"] == kids["school_zip"]).all()
    per = kids.group_by("household_id").agg(
        pl.len().alias("children"), pl.col("school_id").n_unique().alias("schools"), "size"
    )
    assert per["children"].max() == 4
    assert (per["size"].list.first() - per["children"]).is_between(1, 2).all()
    assert per.filter(pl.col("schools") > 1).height > 0  # siblings across schools
    assert 0.4 < (per["children"] == 1).mean() < 0.7


def test_absences_are_sparse_school_days_with_reason_codes(schools: pl.DataFrame) -> None:
    district = synth_district(schools)
    absences = synth_absences(district)
    days = set(instructional_days())
    assert set(absences["date"].unique()) <= days
    person_days = district.frames["person"].height * len(days)
    assert 0.02 < absences.height / person_days < 0.06
    assert set(absences["reason"].unique()) == {
        "documented_positive",
        "directed_quarantine_isolation",
        "personal",
        "self_reported_unconfirmed",
    }
    assert absences.select("person_id", "date").is_duplicated().sum() == 0


def test_standard_files_parse_validate_and_are_byte_identical_per_seed(
    schools: pl.DataFrame, tmp_path: Path
) -> None:
    district = synth_district(schools)
    first = write_standard_files(district.frames, tmp_path / "a")
    second = write_standard_files(synth_district(schools).frames, tmp_path / "b")
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in first]
    assert digest == [hashlib.sha256(p.read_bytes()).hexdigest() for p in second]
    for path in first:
        batch = StandardLayout("synthetic-district").parse(path)
        validate_batch(batch)
        assert batch.frame.drop("_row").equals(district.frames[path.stem])


def test_standard_layout_errors_name_file_row_field_value(tmp_path: Path) -> None:
    bad = tmp_path / "absence.csv"
    bad.write_text(
        "person_id,school_id,date,reason\n"
        "P1,400009,2021-09-01,personal\n"
        "P2,400009,2021-09-31,personal\n"
        "P3,400009,2021-09-02,sick\n"
    )
    with pytest.raises(FileValidationError) as err:
        StandardLayout().parse(bad)
    text = str(err.value)
    assert f"{bad}: data row 2, field 'date': value '2021-09-31'; expected a date" in text
    assert f"{bad}: data row 3, field 'reason': value 'sick'; expected one of" in text
    with pytest.raises(FileValidationError, match="a record type name"):
        StandardLayout().parse(tmp_path / "pupils.csv")
    # parquet: same columns with their types; optional columns may be left out
    pl.DataFrame(
        {"person_id": ["P1"], "role": ["student"], "age_years": [9]},
        schema={"person_id": pl.String, "role": pl.String, "age_years": pl.Int64},
    ).write_parquet(tmp_path / "person.parquet")
    batch = StandardLayout().parse(tmp_path / "person.parquet")
    validate_batch(batch)
    assert batch.frame.row(0) == (1, "P1", "student", 9, None)
    pl.DataFrame({"person_id": ["P1"], "role": ["student"], "age_years": ["9"]}).write_parquet(
        tmp_path / "person.parquet"
    )
    with pytest.raises(FileValidationError, match="field 'age_years': value 'String'"):
        StandardLayout().parse(tmp_path / "person.parquet")


def test_cli_synth_imports_through_the_service_idempotently(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", db_url]).exit_code == 0
    args = ["district", "synth", "--out", str(tmp_path / "d"), "--profiles", str(PROFILES)]
    args += ["--seed", "3", "--absences", "--import", "--db", db_url]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "from 12 schools: 5,106 students" in first.output
    assert "synthetic-district/enrolment: import #6: 5106 rows, 5106 added" in first.output
    status = json.loads(runner.invoke(app, ["status", "--db", db_url, "--json"]).output)
    assert status["rows"]["enrolment"] == 5106
    assert status["rows"]["absence"] > 0
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    # ten sources, testing_consent and accommodation requests included
    assert again.output.count("unchanged (same file as import #") == 10
    assert json.loads(runner.invoke(app, ["status", "--db", db_url, "--json"]).output) == status

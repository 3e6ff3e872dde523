from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import polars as pl
import pytest

from schoolmode.importers import CHICAGO, IMPORTERS
from schoolmode.importers.cdph import (
    ChicagoPopulation,
    DailyCases,
    DailyTesting,
    VaccinationZip,
    ZipWeekly,
)
from schoolmode.importers.cps import SchoolCovidCases, SchoolProfiles
from schoolmode.importers.other import IllinoisStatewide, OntarioSchoolCases, SocioPatterns
from schoolmode.standard.batch import ROW, FileValidationError, validate_batch

D = dt.date.fromisoformat


@pytest.mark.parametrize("source", sorted(s for s in IMPORTERS if s != "sociopatterns"))
def test_each_importer_parses_its_fixture_into_valid_records(
    source: str, fixture_data: Path
) -> None:
    importer = IMPORTERS[source]
    for path in importer.default_paths(fixture_data):
        batch = importer.parse(path)
        validate_batch(batch)
        assert batch.frame.height > 0
        assert batch.frame[ROW].min() == 1 or batch.skipped_rows > 0


def test_daily_testing_values_and_blank_date_row(fixture_data: Path) -> None:
    batch = DailyTesting().parse(fixture_data / DailyTesting.default_files[0])
    assert batch.skipped_rows == 1
    assert "blank Date" in batch.notes[0]
    day = batch.frame.filter(pl.col("date") == D("2020-09-17"))
    values = dict(zip(day["metric"], day["value"], strict=True))
    assert (values["positive_tests"], values["not_positive_tests"], values["total_tests"]) == (
        435,
        8194,
        8629,
    )
    assert day["_row"].unique().to_list() == [1]


def test_daily_cases_keep_every_count_column(fixture_data: Path) -> None:
    batch = DailyCases().parse(fixture_data / DailyCases.default_files[0])
    assert batch.frame["metric"].n_unique() == 57
    row = batch.frame.filter(
        (pl.col("date") == D("2023-02-26")) & (pl.col("metric") == "cases_age_80plus")
    )
    assert row["value"].to_list() == [12.0]


def test_school_profiles(fixture_data: Path) -> None:
    batch = SchoolProfiles().parse(fixture_data / SchoolProfiles.default_files[0])
    assert batch.dataset == "2021-2022"
    mckay = batch.frame.filter(pl.col("school_id") == "610067").row(0, named=True)
    assert mckay["name"] == "Francis M McKay Elementary School"
    assert (mckay["level"], mckay["enrolment"], mckay["zip"]) == ("ES", 623, "60629")
    assert mckay["grades"] == "PK,K,1,2,3,4,5,6,7,8"
    assert mckay["latitude"] == pytest.approx(41.768143)
    assert (
        SchoolProfiles().parse(fixture_data / SchoolProfiles.default_files[1]).dataset
        == "2022-2023"
    )


def test_school_profile_errors_name_row_field_value(fixture_data: Path, tmp_path: Path) -> None:
    src = fixture_data / SchoolProfiles.default_files[0]
    frame = pl.read_csv(src, infer_schema=False)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 2)
        .then(pl.lit("XX"))
        .otherwise(pl.col("Primary_Category"))
        .alias("Primary_Category"),
        pl.when(pl.int_range(pl.len()) == 4)
        .then(pl.lit("many"))
        .otherwise(pl.col("Student_Count_Total"))
        .alias("Student_Count_Total"),
    )
    bad = tmp_path / "profiles.csv"
    frame.write_csv(bad)
    with pytest.raises(FileValidationError) as info:
        SchoolProfiles().parse(bad)
    text = str(info.value)
    assert (
        f"{bad}: data row 3, field 'Primary_Category': value 'XX'; expected one of ES, MS, HS"
        in text
    )
    assert (
        f"{bad}: data row 5, field 'Student_Count_Total': value 'many'; expected a whole number >= 0"
        in text
    )
    assert info.value.total == 2


def test_school_covid_cases_periods(fixture_data: Path) -> None:
    batch = SchoolCovidCases().parse(fixture_data / SchoolCovidCases.default_files[0])
    f = batch.frame
    periods = f.filter(pl.col("school_id") == "609772").sort("date")
    assert periods.filter(pl.col("date") == D("2020-03-07"))["period_days"].item() == 7
    assert periods.filter(pl.col("date") == D("2021-01-16"))["period_days"].item() == 7
    assert periods.filter(pl.col("date") == D("2021-01-17"))["period_days"].item() == 1
    # the per-date counts add up to the file's own grand total
    raw = pl.read_csv(fixture_data / SchoolCovidCases.default_files[0], infer_schema=False)
    totals = raw.select(pl.col("CPS_School_ID"), pl.col("gTotal").cast(pl.Int64))
    sums = f.group_by("school_id").agg(pl.col("cases").sum())
    joined = totals.join(sums, left_on="CPS_School_ID", right_on="school_id")
    assert joined.height == raw.height
    assert (joined["gTotal"] == joined["cases"]).all()


def test_zip_weekly_keeps_suppressed_cells_as_missing(fixture_data: Path) -> None:
    batch = ZipWeekly().parse(fixture_data / ZipWeekly.default_files[0])
    f = batch.frame
    assert set(f["geography"].unique()) <= {"60601", "60629", "Unknown"}
    assert f["period_days"].unique().to_list() == [7]
    assert f.filter(pl.col("value").is_null()).height > 0


def test_population_rows(fixture_data: Path) -> None:
    batch = ChicagoPopulation().parse(fixture_data / ChicagoPopulation.default_files[0])
    f = batch.frame
    city = f.filter(
        (pl.col("geography") == "Chicago")
        & (pl.col("age_group") == "all")
        & (pl.col("sex") == "all")
    )
    assert dict(zip(city["year"], city["population"], strict=True)) == {
        2018: 2705988,
        2019: 2693959,
    }
    assert set(f["geography_type"].unique()) == {"city", "zip"}
    assert batch.skipped_rows > 0  # suppressed ZIP cells


def test_other_sources(fixture_data: Path) -> None:
    il = IllinoisStatewide().parse(fixture_data / IllinoisStatewide.default_files[0]).frame
    first = il.filter(
        (pl.col("date") == D("2020-03-10")) & (pl.col("metric") == "daily_confirmed_cases")
    )
    assert first["value"].to_list() == [None]  # "NA" in the file
    on = OntarioSchoolCases().parse(fixture_data / OntarioSchoolCases.default_files[1])
    assert on.dataset == "schoolcovidsummary2021_2022.csv"
    vax = VaccinationZip().parse(fixture_data / VaccinationZip.default_files[0]).frame
    assert vax["geography_type"].unique().to_list() == ["zip"]


def test_sociopatterns_format(tmp_path: Path) -> None:
    # made-up rows in the SocioPatterns layout (the real data is CC BY-NC-SA and not copied)
    path = tmp_path / "school.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("31220 1558 1567 3B 3B\n31240\t1560\t1570\t3B\t3B\n31260 1558 1890 3B Teachers\n")
    batch = SocioPatterns().parse(path)
    validate_batch(batch)
    assert batch.frame.select("t", "person_i", "class_j").rows() == [
        (31220, "1558", "3B"),
        (31240, "1560", "3B"),
        (31260, "1558", "Teachers"),
    ]
    assert batch.frame["source"].unique().to_list() == ["sociopatterns/school"]
    bad = tmp_path / "bad.csv.gz"
    with gzip.open(bad, "wt") as fh:
        fh.write("31220 1558 1567 3B 3B\nx 1 2 3A\n")
    with pytest.raises(FileValidationError, match=r"data row 2, field 't': value 'x'") as info:
        SocioPatterns().parse(bad)
    assert "data row 2, field 'Cj': value <blank>; expected text" in str(info.value)


def test_missing_header_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text("Date,Deaths - Total\n03/01/2020,0\n")
    with pytest.raises(
        FileValidationError,
        match=r"header, field 'Cases - Total': value <blank>; expected this column",
    ):
        DailyCases().parse(path)


def test_chicago_set() -> None:
    assert {i.source for i in CHICAGO} == {
        "cdph-daily-testing",
        "cdph-daily-cases",
        "cps-school-profiles",
        "cps-school-covid-cases",
        "cdph-zip-weekly",
        "cdph-population",
        "cdph-vaccination-zip",
    }


@pytest.mark.parametrize("importer", [DailyTesting(), DailyCases()])
def test_a_column_the_publisher_does_not_have_is_refused(
    importer: DailyTesting | DailyCases, fixture_data: Path, tmp_path: Path
) -> None:
    """An extra column, or a repeated one, would have become a metric: refused, named."""
    lines = (fixture_data / importer.default_files[0]).read_text().splitlines()
    extra = tmp_path / "extra.csv"
    extra.write_text("\n".join([lines[0] + ",Bitcoin Price", *(r + ",1" for r in lines[1:4])]))
    with pytest.raises(FileValidationError) as refused:
        importer.parse(extra)
    assert "field 'Bitcoin Price'" in str(refused.value)
    assert f"columns of {importer.source}'s published file" in str(refused.value)
    first = lines[0].split(",")[2]
    repeated = tmp_path / "repeated.csv"
    repeated.write_text(
        "\n".join([lines[0] + "," + first, *(r + "," + r.split(",")[2] for r in lines[1:4])])
    )
    with pytest.raises(FileValidationError, match=f"field '{first}'.*expected a column named once"):
        importer.parse(repeated)

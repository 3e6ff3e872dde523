"""Chicago Public Schools: school profiles (SY2122, SY2223) and school-level COVID case reports."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import polars as pl

from schoolmode.importers._parse import Cells, read_text_csv
from schoolmode.importers.base import Importer, published_columns
from schoolmode.standard.batch import ROW, Batch, FileValidationError, RowError, frame_schema
from schoolmode.standard.models import School, SchoolCaseReport

DISTRICT_ID = "CPS"


FIRST_DATE = dt.date(2020, 1, 1)
"""No CPS COVID-19 report is dated before 2020."""


def _school_year(cells: Cells, text: pl.Series) -> pl.Series:
    """``School Year 2021-2022`` -> ``2021-2022``: two consecutive years, the first from 2000
    to next year (plausibility: no school year 2099-2100)."""
    year = text.str.extract(r"(\d{4}-\d{4})$")
    first = year.str.slice(0, 4).cast(pl.Int64)
    second = year.str.slice(5, 4).cast(pl.Int64)
    last = dt.date.today().year + 1
    ok = (second == first + 1) & (first >= 2000) & (first <= last)
    bad = text.is_not_null() & ~ok.fill_null(False)
    for row, value in cells.frame.filter(bad).select(ROW, "School_Year").head(50).iter_rows():
        cells.fail(
            row, "School_Year", value, f"School Year YYYY-YYYY, one year apart, from 2000 to {last}"
        )
    return year


class SchoolProfiles(Importer):
    """One row per school; the dataset is the school year named in ``School_Year``."""

    source = "cps-school-profiles"
    title = "CPS school profile information (SY2122, SY2223)"
    model = School
    chicago = True
    default_files = (
        "cps-schools/Chicago_Public_Schools_-_School_Profile_Information_SY2122.csv",
        "cps-schools/Chicago_Public_Schools_-_School_Profile_Information_SY2223.csv",
    )

    def parse(self, path: Path) -> Batch:
        raw = read_text_csv(path)
        cells = Cells(path, raw)
        cols = ["School_ID", "Legacy_Unit_ID", "Short_Name", "Long_Name", "Primary_Category"]
        cols += ["Grades_Offered_All", "Zip", "School_Latitude", "School_Longitude"]
        cols += ["Student_Count_Total", "Network", "School_Year"]
        cells.require_columns(cols)
        cells.refuse_unknown_columns(published_columns(self), self.source)
        if raw.height == 0:
            raise FileValidationError(
                str(path),
                [RowError(str(path), 1, "School_Year", None, "a data row (the school year)")],
            )
        school_id = cells.parse("School_ID", "int", ge=1).cast(pl.String)
        year_text = cells.parse("School_Year", "text")
        year = _school_year(cells, year_text)
        frame = pl.DataFrame(
            [
                raw[ROW],
                school_id.alias("school_id"),
                year.alias("school_year"),
                pl.Series("district_id", [DISTRICT_ID] * raw.height, pl.String),
                cells.parse("Legacy_Unit_ID", "text", required=False).alias("state_id"),
                cells.parse("Long_Name", "text").alias("name"),
                cells.parse("Short_Name", "text", required=False).alias("short_name"),
                cells.parse("Primary_Category", "text", choices=("ES", "MS", "HS")).alias("level"),
                cells.parse("Grades_Offered_All", "text").str.replace_all(" ", "").alias("grades"),
                cells.parse("Zip", "text", required=False).alias("zip"),
                cells.parse("School_Latitude", "float", required=False, ge=-90, le=90).alias(
                    "latitude"
                ),
                cells.parse("School_Longitude", "float", required=False, ge=-180, le=180).alias(
                    "longitude"
                ),
                cells.parse("Student_Count_Total", "int", ge=0).alias("enrolment"),
                cells.parse("Network", "text", required=False).alias("network"),
            ]
        )
        bad_zip = frame.filter(~pl.col("zip").str.contains(r"^\d{5}$").fill_null(True))
        for row, value in bad_zip.select(ROW, "zip").iter_rows():
            cells.fail(row, "Zip", value, "a five-digit ZIP code")
        years = frame["school_year"].drop_nulls().unique(maintain_order=True).to_list()
        if len(years) > 1:
            first = frame.filter(pl.col("school_year") != years[0]).row(0, named=True)
            cells.fail(
                first[ROW], "School_Year", first["school_year"], f"one school year ({years[0]})"
            )
        cells.raise_if_errors()
        fields = {
            "school_id": "School_ID",
            "school_year": "School_Year",
            "level": "Primary_Category",
            "enrolment": "Student_Count_Total",
        }
        return Batch(self.source, years[0], self.model, frame, path, source_fields=fields)


class SchoolCovidCases(Importer):
    """cpscovid.com archive: one row per school, one column of new cases per update date
    (weekly to 2021-01-09, then daily). Each date column becomes one report per school whose
    ``period_days`` is the gap since the previous column (7 for the first)."""

    source = "cps-school-covid-cases"
    title = "CPS school-level reported COVID-19 cases (cpscovid.com archive, 2020-03..2021-09)"
    model = SchoolCaseReport
    chicago = True
    default_files = ("cps-school-covid-cases/allCpsCovidData.csv",)

    def parse(self, path: Path) -> Batch:
        raw = read_text_csv(path)
        cells = Cells(path, raw)
        cells.require_columns(["School", "CPS_School_ID"])
        date_cols = [c for c in raw.columns if c.isdigit() and len(c) == 8]
        cells.refuse_unknown_columns(published_columns(self) | set(date_cols), self.source)
        dates: list[dt.date] = []
        bad_header = []
        for c in date_cols:
            try:
                dates.append(dt.datetime.strptime(c, "%Y%m%d").date())
            except ValueError:
                bad_header.append(RowError(str(path), None, c, c, "a date column YYYYMMDD"))
        if bad_header or not date_cols:
            raise FileValidationError(
                str(path),
                bad_header or [RowError(str(path), None, "YYYYMMDD", None, "date columns")],
            )
        periods = [7] + [(b - a).days for a, b in itertools.pairwise(dates)]
        for col, day, period in zip(date_cols, dates, periods, strict=True):
            if period < 1:
                cells.fail(None, col, col, "date columns in increasing order")
            if not FIRST_DATE <= day <= dt.date.today():
                cells.fail(None, col, col, f"a date column from {FIRST_DATE:%Y%m%d} to today")
        school_id = cells.parse("CPS_School_ID", "int", ge=1).cast(pl.String)
        name = cells.parse("School", "text")
        counts = [cells.parse(c, "int", ge=0) for c in date_cols]
        cells.raise_if_errors()
        wide = pl.DataFrame(
            [raw[ROW], school_id.alias("school_id"), name.alias("school_name"), *counts]
        )
        period_of = pl.DataFrame(
            {"col": date_cols, "date": dates, "period_days": periods},
            schema={"col": pl.String, "date": pl.Date, "period_days": pl.Int64},
        )
        frame = (
            wide.unpivot(on=date_cols, index=[ROW, "school_id", "school_name"], variable_name="col")
            .join(period_of, on="col")
            .with_columns(pl.lit(self.source).alias("source"), pl.col("value").alias("cases"))
            .select(ROW, *frame_schema(SchoolCaseReport))
        )
        fields = {"school_id": "CPS_School_ID", "school_name": "School", "cases": "(date column)"}
        return Batch(self.source, "cpscovid", self.model, frame, path, source_fields=fields)

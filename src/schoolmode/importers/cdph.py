"""City of Chicago / CDPH datasets: daily tests (gkdw-2tgv), daily cases (naz8-j4nc),
weekly cases and tests by ZIP (yhhz-zm2v), vaccinations by ZIP (553k-3xzc) and population."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar

import polars as pl

from schoolmode.importers._parse import Cells, read_text_csv, slug
from schoolmode.importers.base import Importer, long_indicators, published_columns
from schoolmode.standard.batch import ROW, Batch, frame_schema
from schoolmode.standard.models import CommunityIndicator, Population

CITY = pl.lit("Chicago")
FIRST_DATE = dt.date(2020, 1, 1)
"""No COVID-19 count of these sources is dated before 2020 (plausibility: dates from it to
today)."""


class _DailyCitywide(Importer):
    """One row per date, every other column a count: each becomes a metric (snake_case). A
    column the publisher's file does not have (its shipped copy's header) is refused."""

    model = CommunityIndicator
    chicago = True
    ignored: ClassVar[tuple[str, ...]] = ()

    def parse(self, path: Path) -> Batch:
        raw = read_text_csv(path)
        cells = Cells(path, raw)
        cells.require_columns(["Date", *self.required_metrics])
        cells.refuse_unknown_columns(published_columns(self), self.source)
        keep_blank_date = (raw["Date"].str.strip_chars() == "").fill_null(True)
        skipped = int(keep_blank_date.sum())
        notes = []
        if skipped:
            notes.append(f"{skipped} row(s) with blank Date (counts of unknown date) skipped")
        raw = raw.filter(~keep_blank_date)
        cells.frame = raw
        metric_cols = [c for c in raw.columns if c not in (ROW, "Date", *self.ignored)]
        parsed = [cells.parse("Date", "date", fmt="%m/%d/%Y").alias("date")]
        cells.within_dates("Date", parsed[0], FIRST_DATE)
        for col in metric_cols:
            parsed.append(
                cells.parse(col, "int", required=col in self.required_metrics, ge=0).alias(
                    slug(col)
                )
            )
        self.plausible(cells, dict(zip(metric_cols, parsed[1:], strict=True)))
        cells.raise_if_errors()
        wide = pl.DataFrame([raw[ROW], *parsed])
        frame = long_indicators(
            wide,
            source=self.source,
            geography_type="city",
            geography=CITY,
            period_days=1,
            metrics=[slug(c) for c in metric_cols],
        )
        fields = {"date": "Date", "metric": "(column name)", "value": "(metric column)"}
        return Batch(self.source, "citywide", self.model, frame, path, skipped, notes, fields)

    required_metrics: ClassVar[tuple[str, ...]] = ()

    def plausible(self, cells: Cells, counts: dict[str, pl.Series]) -> None:
        """Checks between the counts of one row (none by default)."""


class DailyTesting(_DailyCitywide):
    source = "cdph-daily-testing"
    title = "CDPH COVID-19 daily testing, by test and specimen date (gkdw-2tgv)"
    default_files = ("chicago-daily-testing/COVID-19_Daily_Testing_-_By_Test.csv",)
    ignored = ("Day",)
    required_metrics = ("Positive Tests", "Not Positive Tests", "Total Tests")

    def plausible(self, cells: Cells, counts: dict[str, pl.Series]) -> None:
        """Positive tests are at most the total tests of the day."""
        positive, total = counts["Positive Tests"], counts["Total Tests"]
        cells.at_most("Positive Tests", positive, "Total Tests", total)


class DailyCases(_DailyCitywide):
    source = "cdph-daily-cases"
    title = "CDPH COVID-19 daily cases, deaths and hospitalizations (naz8-j4nc)"
    default_files = ("chicago-daily-cases/COVID-19_Daily_Cases__Deaths__and_Hospitalizations.csv",)
    required_metrics = ("Cases - Total",)


def _zip_geography(cells: Cells, column: str) -> pl.Series:
    zips = cells.parse(column, "text")
    ok = zips.is_null() | zips.str.contains(r"^\d{5}$") | (zips == "Unknown")
    for row, value in cells.frame.filter(~ok).select(ROW, column).head(50).iter_rows():
        cells.fail(row, column, value, "a five-digit ZIP code or Unknown")
    return zips


class ZipWeekly(Importer):
    """Weekly (Sunday-Saturday) cases, tests (by person) and deaths per ZIP; rates are not
    kept (they are derived), blank (suppressed) cells are stored as missing values."""

    source = "cdph-zip-weekly"
    title = "CDPH COVID-19 cases, tests and deaths by ZIP code and week (yhhz-zm2v)"
    model = CommunityIndicator
    chicago = True
    default_files = ("chicago-zip-weekly/COVID-19_Cases__Tests__and_Deaths_by_ZIP_Code.csv",)
    metrics: ClassVar[tuple[str, ...]] = (
        "Cases - Weekly",
        "Cases - Cumulative",
        "Tests - Weekly",
        "Tests - Cumulative",
        "Deaths - Weekly",
        "Deaths - Cumulative",
        "Population",
    )

    def parse(self, path: Path) -> Batch:
        raw = read_text_csv(path)
        cells = Cells(path, raw)
        cells.require_columns(["ZIP Code", "Week Start", "Week End", *self.metrics])
        cells.refuse_unknown_columns(published_columns(self), self.source)
        zips = _zip_geography(cells, "ZIP Code")
        start = cells.parse("Week Start", "date", fmt="%m/%d/%Y").alias("date")
        end = cells.parse("Week End", "date", fmt="%m/%d/%Y")
        cells.within_dates("Week Start", start, FIRST_DATE)
        values = [cells.parse(c, "int", required=False, ge=0).alias(slug(c)) for c in self.metrics]
        self._plausible(cells, dict(zip(self.metrics, values, strict=True)), start, zips)
        span = (end - start).dt.total_days()
        for row, value in (
            raw.filter((span != 6).fill_null(False)).select(ROW, "Week End").iter_rows()
        ):
            cells.fail(row, "Week End", value, "Week Start + 6 days")
        cells.raise_if_errors()
        wide = pl.DataFrame([raw[ROW], start, zips.alias("zip"), *values])
        frame = long_indicators(
            wide,
            source=self.source,
            geography_type="zip",
            geography=pl.col("zip"),
            period_days=7,
            metrics=[slug(c) for c in self.metrics],
        )
        fields = {"date": "Week Start", "geography": "ZIP Code"}
        return Batch(self.source, "zip-weekly", self.model, frame, path, source_fields=fields)

    @staticmethod
    def _plausible(
        cells: Cells, counts: dict[str, pl.Series], week: pl.Series, zips: pl.Series
    ) -> None:
        """Cumulative cases and deaths never fall from one week to a later one of the same ZIP
        (cumulative tests do, as the publisher deduplicates people); a week's count is at most
        the cumulative count; deaths at most cases; cumulative cases at most the ZIP's
        population where it is above 0."""
        for kind in ("Cases", "Deaths"):
            cumulative = counts[f"{kind} - Cumulative"]
            cells.non_decreasing(f"{kind} - Cumulative", cumulative, week, zips)
            cells.at_most(
                f"{kind} - Weekly", counts[f"{kind} - Weekly"], f"{kind} - Cumulative", cumulative
            )
        cases, deaths = counts["Cases - Cumulative"], counts["Deaths - Cumulative"]
        cells.at_most("Deaths - Cumulative", deaths, "Cases - Cumulative", cases)
        population = counts["Population"]
        known = pl.when(population > 0).then(population).otherwise(None)
        cells.at_most("Cases - Cumulative", cases, "Population", pl.select(known).to_series())


class VaccinationZip(Importer):
    """Daily doses by ZIP of residence; daily and cumulative counts and the ZIP population."""

    source = "cdph-vaccination-zip"
    title = "CDPH COVID-19 vaccinations by ZIP code (553k-3xzc)"
    model = CommunityIndicator
    chicago = True
    default_files = ("chicago-vaccination-zip/COVID-19_Vaccinations_by_ZIP_Code.csv",)
    metrics: ClassVar[tuple[str, ...]] = (
        "Total Doses - Daily",
        "Total Doses - Cumulative",
        "1st Dose - Daily",
        "1st Dose - Cumulative",
        "Vaccine Series Completed - Daily",
        "Vaccine Series Completed - Cumulative",
        "Population",
    )

    def parse(self, path: Path) -> Batch:
        raw = read_text_csv(path)
        cells = Cells(path, raw)
        cells.require_columns(["Zip Code", "Date", *self.metrics])
        cells.refuse_unknown_columns(published_columns(self), self.source)
        zips = _zip_geography(cells, "Zip Code")
        date = cells.parse("Date", "date", fmt="%m/%d/%Y").alias("date")
        cells.within_dates("Date", date, FIRST_DATE)
        values = [cells.parse(c, "int", required=False, ge=0).alias(slug(c)) for c in self.metrics]
        counts = dict(zip(self.metrics, values, strict=True))
        for name in ("Total Doses", "1st Dose", "Vaccine Series Completed"):
            cumulative = counts[f"{name} - Cumulative"]
            cells.non_decreasing(f"{name} - Cumulative", cumulative, date, zips)
            cells.at_most(
                f"{name} - Daily", counts[f"{name} - Daily"], f"{name} - Cumulative", cumulative
            )
        first = counts["1st Dose - Cumulative"]
        cells.at_most(
            "1st Dose - Cumulative",
            first,
            "Total Doses - Cumulative",
            counts["Total Doses - Cumulative"],
        )
        completed = counts["Vaccine Series Completed - Cumulative"]
        cells.at_most(
            "Vaccine Series Completed - Cumulative", completed, "1st Dose - Cumulative", first
        )
        cells.raise_if_errors()
        wide = pl.DataFrame([raw[ROW], date, zips.alias("zip"), *values])
        frame = long_indicators(
            wide,
            source=self.source,
            geography_type="zip",
            geography=pl.col("zip"),
            period_days=1,
            metrics=[slug(c) for c in self.metrics],
        )
        fields = {"date": "Date", "geography": "Zip Code"}
        return Batch(self.source, "zip-daily", self.model, frame, path, source_fields=fields)


_AGE = {"Total": ("all", "all"), "Female": ("all", "female"), "Male": ("all", "male")}


class ChicagoPopulation(Importer):
    """Citywide and ZIP populations (ACS 5-year) by age group and sex; race/ethnicity columns
    are not part of the standard's population record and are not kept. Blank (suppressed)
    cells are skipped and counted in the notes."""

    source = "cdph-population"
    title = "Chicago population counts, citywide and by ZIP (ACS 5-year, CDPH)"
    model = Population
    chicago = True
    default_files = ("chicago-population/Chicago_Population_Counts.csv",)

    def parse(self, path: Path) -> Batch:
        raw = read_text_csv(path)
        cells = Cells(path, raw)
        cells.require_columns(["Geography Type", "Year", "Geography", "Population - Total"])
        cells.refuse_unknown_columns(published_columns(self), self.source)
        gtype = cells.parse("Geography Type", "text", choices=("Citywide", "ZIP Code", "Zip Code"))
        year = cells.parse("Year", "int", ge=2000, le=dt.date.today().year)
        geo = cells.parse("Geography", "text")
        groups: list[tuple[str, str, str]] = []
        for col in raw.columns:
            if not col.startswith("Population - "):
                continue
            label = col.removeprefix("Population - ")
            if label in _AGE:
                groups.append((col, *_AGE[label]))
            elif label.startswith("Age "):
                groups.append((col, label.removeprefix("Age "), "all"))
        values = [
            cells.parse(col, "int", required=col == "Population - Total", ge=0)
            for col, _, _ in groups
        ]
        total = values[[col for col, _, _ in groups].index("Population - Total")]
        for (col, _, _), value in zip(groups, values, strict=True):
            if col != "Population - Total":
                cells.at_most(col, value, "Population - Total", total)
        cells.raise_if_errors()
        base = pl.DataFrame(
            [
                raw[ROW],
                gtype.replace_strict(
                    {"Citywide": "city", "ZIP Code": "zip", "Zip Code": "zip"}
                ).alias("geography_type"),
                geo.alias("geography"),
                year.alias("year"),
            ]
        )
        parts = [
            base.with_columns(
                pl.lit(age).alias("age_group"), pl.lit(sex).alias("sex"), v.alias("population")
            )
            for (_, age, sex), v in zip(groups, values, strict=True)
        ]
        long = pl.concat(parts).with_columns(pl.lit(self.source).alias("source"))
        blank = long.filter(pl.col("population").is_null()).height
        frame = long.filter(pl.col("population").is_not_null()).select(
            ROW, *frame_schema(Population)
        )
        notes = [f"{blank} blank (suppressed) population cells skipped"] if blank else []
        return Batch(self.source, "acs", self.model, frame, path, blank, notes)

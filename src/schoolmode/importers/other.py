"""Sources outside Chicago: Illinois statewide (IDPH), Ontario school cases, SocioPatterns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from schoolmode.importers._parse import (
    Cells,
    read_text,
    read_text_csv,
    refuse_control_characters,
    slug,
)
from schoolmode.importers.base import Importer, long_indicators, published_columns
from schoolmode.standard.batch import ROW, Batch, frame_schema
from schoolmode.standard.models import CommunityIndicator, ContactEvent

FIRST_DATE = dt.date(2020, 1, 1)
"""No COVID-19 count of these sources is dated before 2020."""


class IllinoisStatewide(Importer):
    """IDPH statewide cumulative and daily confirmed cases and deaths by report date."""

    source = "idph-illinois-statewide"
    title = "IDPH Illinois statewide daily confirmed cases and deaths"
    model = CommunityIndicator
    default_files = ("illinois-statewide/idph_illinois_statewide_daily.csv",)
    metrics = ("confirmed_cases", "deaths", "daily_confirmed_cases", "daily_deaths")

    def parse(self, path: Path) -> Batch:
        raw = read_text_csv(path)
        cells = Cells(path, raw)
        cells.require_columns(["date", *self.metrics])
        cells.refuse_unknown_columns(published_columns(self), self.source)
        date = cells.parse("date", "date", fmt="%Y-%m-%d")
        cells.within_dates("date", date, FIRST_DATE)
        values = [cells.parse(c, "int", required=False, blank=("NA",), ge=0) for c in self.metrics]
        counts = dict(zip(self.metrics, values, strict=True))
        for cumulative, daily in (
            ("confirmed_cases", "daily_confirmed_cases"),
            ("deaths", "daily_deaths"),
        ):
            cells.non_decreasing(cumulative, counts[cumulative], date)
            cells.at_most(daily, counts[daily], cumulative, counts[cumulative])
        cells.at_most("deaths", counts["deaths"], "confirmed_cases", counts["confirmed_cases"])
        cells.raise_if_errors()
        wide = pl.DataFrame([raw[ROW], date, *values])
        frame = long_indicators(
            wide,
            source=self.source,
            geography_type="state",
            geography=pl.lit("IL"),
            period_days=1,
            metrics=list(self.metrics),
        )
        return Batch(self.source, "statewide", self.model, frame, path)


class OntarioSchoolCases(Importer):
    """Ontario school-related cases summary, one row per collection date; every count column
    becomes a metric for province ON. The dataset is the file (2020-21 or 2021-22)."""

    source = "ontario-school-cases"
    title = "Ontario schools: summary of school-related COVID-19 cases"
    model = CommunityIndicator
    default_files = (
        "ontario-school-cases/schoolcovidsummary.csv",
        "ontario-school-cases/schoolcovidsummary2021_2022.csv",
    )

    def parse(self, path: Path) -> Batch:
        raw = read_text_csv(path)
        cells = Cells(path, raw)
        cells.require_columns(["collected_date", "reported_date"])
        cells.refuse_unknown_columns(published_columns(self), self.source)
        date = cells.parse("collected_date", "date", fmt="%Y-%m-%d").alias("date")
        reported = cells.parse("reported_date", "date", fmt="%Y-%m-%d")
        cells.within_dates("collected_date", date, FIRST_DATE)
        cells.within_dates("reported_date", reported, FIRST_DATE)
        metric_cols = [c for c in raw.columns if c not in (ROW, "collected_date", "reported_date")]
        values = [cells.parse(c, "int", required=False, ge=0).alias(slug(c)) for c in metric_cols]
        cells.raise_if_errors()
        wide = pl.DataFrame([raw[ROW], date, *values])
        frame = long_indicators(
            wide,
            source=self.source,
            geography_type="province",
            geography=pl.lit("ON"),
            period_days=1,
            metrics=[slug(c) for c in metric_cols],
        )
        return Batch(
            self.source,
            path.name,
            self.model,
            frame,
            path,
            source_fields={"date": "collected_date"},
        )


class SocioPatterns(Importer):
    """Face-to-face contacts ``t i j Ci Cj`` (whitespace separated, gzipped). Licensed
    CC BY-NC-SA 3.0: never shipped; read from a folder given at run time."""

    source = "sociopatterns"
    title = "SocioPatterns school contact networks (primary school 2009, high schools 2012/2013)"
    model = ContactEvent
    default_files = (
        "sociopatterns-school-contacts/primaryschool.csv.gz",
        "sociopatterns-school-contacts/highschool_2012.csv.gz",
        "sociopatterns-school-contacts/HighSchool2013_proximity_net.csv.gz",
    )

    def parse(self, path: Path) -> Batch:
        text = read_text(path, header=False).split("\n")
        if text and text[-1] == "":
            text.pop()
        lines = (
            pl.DataFrame([pl.Series("line", text, pl.String)])
            .with_row_index(ROW, offset=1)
            .with_columns(pl.col(ROW).cast(pl.Int64))
        )
        refuse_control_characters(path, lines)
        parts = pl.col("line").str.strip_chars().str.split(by=" ")
        lines = lines.with_columns(pl.col("line").str.replace_all(r"[ \t]+", " "))
        lines = lines.with_columns(parts.list.len().alias("n"))
        names = ["t", "i", "j", "Ci", "Cj"]
        raw = lines.select(
            ROW,
            "line",
            *(parts.list.get(k, null_on_oob=True).alias(n) for k, n in enumerate(names)),
        )
        cells = Cells(path, raw)
        for row, line in lines.filter(pl.col("n") > 5).select(ROW, "line").head(50).iter_rows():
            cells.fail(row, "(line)", line, "5 fields: t i j Ci Cj")
        t = cells.parse("t", "int", ge=0)
        i = cells.parse("i", "int", ge=0).cast(pl.String)
        j = cells.parse("j", "int", ge=0).cast(pl.String)
        ci = cells.parse("Ci", "text")
        cj = cells.parse("Cj", "text")
        cells.raise_if_errors()
        frame = pl.DataFrame(
            [
                raw[ROW],
                t,
                i.alias("person_i"),
                j.alias("person_j"),
                ci.alias("class_i"),
                cj.alias("class_j"),
            ]
        ).with_columns(pl.lit(f"{self.source}/{path.name.split('.')[0]}").alias("source"))
        frame = frame.select(ROW, *frame_schema(ContactEvent))
        return Batch(self.source, path.name, self.model, frame, path)

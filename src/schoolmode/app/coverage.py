"""Use cases of data coverage: which series the store has rows for in a day range (first and
last day of each, and where it ends in the whole store), and where every series ends."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, model_validator

from schoolmode.app.context import Context
from schoolmode.metrics.coverage import coverage, last_days


class CoverageRequest(BaseModel):
    """The series with and without rows dated ``first .. last`` (default: ``first`` only)."""

    model_config = ConfigDict(frozen=True)

    first: dt.date
    last: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> CoverageRequest:
        if self.last is not None and self.last < self.first:
            raise ValueError(f"the last day {self.last} is before the first day {self.first}")
        return self


class SeriesCoverage(BaseModel):
    """One series (a source's metric for one geography type) over the range asked."""

    model_config = ConfigDict(frozen=True)

    source: str
    geography_type: str
    metric: str
    first: dt.date | None
    """Its first day with rows in the range (None: none)."""
    last: dt.date | None
    """Its last day with rows in the range (None: none)."""
    days: int
    """Days of the range it has rows for."""
    starts: dt.date
    """Its first day with rows in the whole store."""
    ends: dt.date
    """Its last day with rows in the whole store."""


class CoverageResult(BaseModel):
    """Every series the store holds, over ``first .. last``."""

    model_config = ConfigDict(frozen=True)

    first: dt.date
    last: dt.date
    days: int
    """Days in the range."""
    series: list[SeriesCoverage]

    def without_rows(self) -> list[SeriesCoverage]:
        """The series with no row in the range."""
        return [s for s in self.series if s.days == 0]

    def partial(self) -> list[SeriesCoverage]:
        """The series with rows on some days of the range only."""
        return [s for s in self.series if 0 < s.days < self.days]


def data_coverage(ctx: Context, req: CoverageRequest) -> CoverageResult:
    """For each series of the store: its first and last day with rows in the range, how many
    of the range's days have rows, and where the series starts and ends in the whole store."""
    last = req.last or req.first
    whole = coverage(ctx.engine)
    within = {
        (r["source"], r["geography_type"], r["metric"]): r
        for r in coverage(ctx.engine, req.first, last).iter_rows(named=True)
    }
    series = []
    for row in whole.iter_rows(named=True):
        got = within.get((row["source"], row["geography_type"], row["metric"]))
        series.append(
            SeriesCoverage(
                source=row["source"],
                geography_type=row["geography_type"],
                metric=row["metric"],
                first=None if got is None else got["first"],
                last=None if got is None else got["last"],
                days=0 if got is None else got["days"],
                starts=row["first"],
                ends=row["last"],
            )
        )
    return CoverageResult(
        first=req.first, last=last, days=(last - req.first).days + 1, series=series
    )


class SeriesEndRow(BaseModel):
    """Where one series ends: ``label`` is ``source/metric`` (with a geography type other
    than the city's in brackets)."""

    model_config = ConfigDict(frozen=True)

    source: str
    geography_type: str
    metric: str
    label: str
    last: dt.date


def series_ends(ctx: Context) -> list[SeriesEndRow]:
    """Every series' last day with rows in the store: what a timeline marks as where its data
    end."""
    return [
        SeriesEndRow(
            source=s.source,
            geography_type=s.geography_type,
            metric=s.metric,
            label=s.label,
            last=s.last,
        )
        for s in last_days(ctx.engine)
    ]

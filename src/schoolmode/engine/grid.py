"""Metric frames in, dense unit x day grids out.

A metric frame has one row per unit and day: ``unit`` (string), ``date`` (date), one
column per metric (integers, floats or booleans) and optionally string columns that
describe the unit (``parent``, ``grade_band`` ...: *attributes*, constant per unit).
The engine works on dense grids over every calendar day from the first to the last
date of the evaluation: a missing row is a day with no data (its metrics are unknown).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from schoolmode.engine.rational import SCALE, Bool, Rational
from schoolmode.policy.errors import SchoolmodeError

UNIT = "unit"
DATE = "date"
PARENT = "parent"


class FrameError(SchoolmodeError):
    """A metric frame does not have the shape the engine needs."""


@dataclass(frozen=True)
class Calendar:
    """Which days are instructional (school) days.

    ``school_days`` lists them; when it is None every weekday that is not in ``holidays``
    is a school day.
    """

    school_days: frozenset[dt.date] | None = None
    holidays: frozenset[dt.date] = frozenset()

    def mask(self, dates: list[dt.date]) -> Bool:
        if self.school_days is not None:
            return np.array([d in self.school_days for d in dates], dtype=bool)
        return np.array([d.weekday() < 5 and d not in self.holidays for d in dates], dtype=bool)


@dataclass
class Axis:
    """The calendar days of one evaluation, and which of them are school days."""

    start: dt.date
    days: int
    school: Bool

    @classmethod
    def spanning(cls, first: dt.date, last: dt.date, calendar: Calendar) -> Axis:
        n = (last - first).days + 1
        dates = [first + dt.timedelta(days=i) for i in range(n)]
        return cls(first, n, calendar.mask(dates))

    def date(self, index: int) -> dt.date:
        return self.start + dt.timedelta(days=index)

    def index(self, day: dt.date) -> int:
        return (day - self.start).days

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]

    def school_positions(self) -> npt.NDArray[np.int64]:
        return np.flatnonzero(self.school).astype(np.int64)


@dataclass
class Grid:
    """One scope's metrics as (units x days) arrays."""

    scope: str
    units: list[str]
    axis: Axis
    present: Bool
    metrics: dict[str, Rational] = field(default_factory=dict)
    attributes: dict[str, npt.NDArray[np.str_]] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.units), self.axis.days)

    def unit_index(self, unit: str) -> int:
        try:
            return self.units.index(unit)
        except ValueError:
            raise FrameError(f"unit {unit!r} is not in the {self.scope} frame") from None


def date_bounds(frames: dict[str, pl.DataFrame]) -> tuple[dt.date, dt.date]:
    firsts, lasts = [], []
    for frame in frames.values():
        if frame.height:
            firsts.append(frame[DATE].min())
            lasts.append(frame[DATE].max())
    if not firsts:
        raise FrameError("every metric frame is empty: there is nothing to evaluate")
    return min(firsts), max(lasts)  # type: ignore[type-var,return-value]


def build_grid(scope: str, frame: pl.DataFrame, axis: Axis) -> Grid:
    for required in (UNIT, DATE):
        if required not in frame.columns:
            raise FrameError(
                f"the {scope} frame has no `{required}` column (columns: {', '.join(frame.columns)})"
            )
    if frame.schema[DATE] != pl.Date:
        frame = frame.with_columns(pl.col(DATE).cast(pl.Date))
    frame = frame.with_columns(pl.col(UNIT).cast(pl.String))
    units_series = frame[UNIT].unique(maintain_order=False).sort()
    units = units_series.to_list()
    u_count, d_count = len(units), axis.days
    keyed = frame.join(
        pl.DataFrame({UNIT: units_series, "_u": np.arange(u_count, dtype=np.int64)}), on=UNIT
    ).with_columns(((pl.col(DATE) - pl.lit(axis.start)).dt.total_days()).alias("_d"))
    u_idx = keyed["_u"].to_numpy()
    d_idx = keyed["_d"].to_numpy().astype(np.int64)
    flat = u_idx * d_count + d_idx
    if np.unique(flat).size != flat.size:
        dupes = keyed.group_by([UNIT, DATE]).len().filter(pl.col("len") > 1).head(3)
        raise FrameError(
            f"the {scope} frame has more than one row for the same unit and day, e.g. "
            + ", ".join(f"{r[UNIT]} on {r[DATE]}" for r in dupes.iter_rows(named=True))
        )
    present = np.zeros(u_count * d_count, dtype=bool)
    present[flat] = True
    grid = Grid(scope, units, axis, present.reshape(u_count, d_count))
    for name, dtype in keyed.schema.items():
        if name in (UNIT, DATE, "_u", "_d"):
            continue
        column = keyed[name]
        if dtype == pl.String or dtype == pl.Categorical:
            first = keyed.group_by("_u").agg(pl.col(name).drop_nulls().first()).sort("_u")
            values = np.full(u_count, "", dtype=object)
            values[first["_u"].to_numpy()] = first[name].fill_null("").to_numpy()
            grid.attributes[name] = values.astype(str)
            continue
        known = np.zeros(u_count * d_count, dtype=bool)
        known[flat] = column.is_not_null().to_numpy()
        num = np.zeros(u_count * d_count, dtype=np.int64)
        if dtype.is_integer() or dtype == pl.Boolean:
            num[flat] = column.cast(pl.Int64).fill_null(0).to_numpy()
            den = 1
        elif dtype.is_float() or dtype.is_decimal():
            values_f = column.cast(pl.Float64).fill_null(0.0).to_numpy()
            if not np.all(np.isfinite(values_f)):
                raise FrameError(
                    f"the {scope} frame's `{name}` column holds a NaN or infinite value"
                )
            num[flat] = np.rint(values_f * SCALE).astype(np.int64)
            den = SCALE
        else:
            raise FrameError(
                f"the {scope} frame's column `{name}` has type {dtype}; metrics must be numbers "
                "or booleans and attributes strings"
            )
        grid.metrics[name] = Rational(
            num.reshape(u_count, d_count), den, known.reshape(u_count, d_count)
        )
    return grid

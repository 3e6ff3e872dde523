"""Metric frames in, dense unit x day grids out.

A metric frame has one row per unit and day: ``unit`` (string), ``date`` (date), one
column per metric (integers, floats or booleans) and optionally string columns that
describe the unit (``parent``, ``grade_band`` ...: *attributes*, constant per unit).
The engine works on dense grids over every calendar day from the first to the last
date of the evaluation: a missing row is a day with no data (its metrics are unknown).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from schoolmode.engine.rational import SCALE, Bool, Int, Rational
from schoolmode.policy.errors import SchoolmodeError

EPOCH = dt.date(1970, 1, 1)
"""Day 0 of polars' dates."""
SMALL_FRAME = 4096
"""Rows up to which a frame's units are numbered in numpy rather than by polars calls."""

UNIT = "unit"
DATE = "date"
PARENT = "parent"
DERIVED_SUFFIX = "_derived"
"""A frame's 0/1 column ``<metric>_derived`` marks the days whose value of ``<metric>`` is
derived from another series, e.g. a citywide positivity from weekly ZIP-code tests (the trace
says so; a ``trend`` has no input on such a day: ``nodes.trends_read``)."""


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


@functools.lru_cache(maxsize=1024)
def _school_days(calendar: Calendar, first: dt.date, n: int) -> bytes:
    """``calendar.mask`` of the ``n`` days from ``first``, remembered (a simulator's loop
    evaluates the same days many times)."""
    return calendar.mask([first + dt.timedelta(days=i) for i in range(max(n, 0))]).tobytes()


@dataclass
class Axis:
    """The calendar days of one evaluation, and which of them are school days."""

    start: dt.date
    days: int
    school: Bool

    @classmethod
    def spanning(cls, first: dt.date, last: dt.date, calendar: Calendar) -> Axis:
        n = (last - first).days + 1
        try:
            known = _school_days(calendar, first, n)
        except TypeError:  # a calendar of plain (unhashable) sets: not remembered
            known = _school_days.__wrapped__(calendar, first, n)
        return cls(first, n, np.frombuffer(known, dtype=bool).copy())

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
    _positions: dict[str, int] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.units), self.axis.days)

    def unit_index(self, unit: str) -> int:
        if self._positions is None:  # built on the first lookup: a trace looks up many units
            self._positions = {name: i for i, name in enumerate(self.units)}
        try:
            return self._positions[unit]
        except KeyError:
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
    if frame.schema[UNIT] != pl.String:
        frame = frame.with_columns(pl.col(UNIT).cast(pl.String))
    unit_col = frame[UNIT]
    if unit_col.is_sorted() and frame.height <= SMALL_FRAME and not unit_col.null_count():
        # A small frame in unit order: the runs of equal names found in numpy (a polars call
        # costs more than the whole of it at this size).
        names = unit_col.to_numpy()
        starts = np.ones(names.size, dtype=bool)
        starts[1:] = names[1:] != names[:-1]
        unit_idx = np.cumsum(starts) - 1
        units = names[starts].tolist()
    elif unit_col.is_sorted():
        # Rows grouped by unit in order: the run number is the unit's index (no string ranking).
        unit_idx = unit_col.rle_id().cast(pl.Int64).to_numpy()
        units = unit_col.unique(maintain_order=True).to_list()
    else:
        # Dense rank of the unit name = its index in the sorted list of units (no join, no copy).
        unit_idx = (unit_col.rank("dense") - 1).cast(pl.Int64).to_numpy()
        units = unit_col.unique().sort().to_list()
    u_count, d_count = len(units), axis.days
    # days since the axis' start from the dates' day numbers (no expression to plan and run)
    dates = frame[DATE]
    if dates.null_count():
        day_num = dates.to_physical().to_numpy()
    else:
        day_num = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
    day_idx = day_num - (axis.start - EPOCH).days
    flat = unit_idx * d_count + day_idx
    if flat.size and (flat.min() < 0 or flat.max() >= u_count * d_count):
        raise FrameError(
            f"the {scope} frame has dates outside {axis.start} .. {axis.date(axis.days - 1)}"
        )
    present = np.zeros(u_count * d_count, dtype=bool)
    present[flat] = True
    if int(np.count_nonzero(present)) != flat.size:
        dupes = frame.group_by([UNIT, DATE]).len().filter(pl.col("len") > 1).head(3)
        raise FrameError(
            f"the {scope} frame has more than one row for the same unit and day, e.g. "
            + ", ".join(f"{r[UNIT]} on {r[DATE]}" for r in dupes.iter_rows(named=True))
        )
    present_grid = present.reshape(u_count, d_count)
    grid = Grid(scope, units, axis, present_grid)
    for name, dtype in frame.schema.items():
        if name in (UNIT, DATE):
            continue
        column = frame[name]
        if dtype == pl.String or dtype == pl.Categorical:
            first = (
                pl.DataFrame({"_u": pl.Series(unit_idx, dtype=pl.Int64), name: column})
                .group_by("_u")
                .agg(pl.col(name).drop_nulls().first())
            )
            values = np.full(u_count, "", dtype=object)
            values[first["_u"].to_numpy()] = first[name].fill_null("").to_numpy()
            grid.attributes[name] = values.astype(str)
            continue
        nulls = column.null_count()
        if nulls:
            known = np.zeros(u_count * d_count, dtype=bool)
            known[flat] = column.is_not_null().to_numpy()
            known_grid: Bool = known.reshape(u_count, d_count)
        else:
            known_grid = present_grid  # shared: no copy per metric
        if dtype.is_integer() or dtype == pl.Boolean:
            as_int = column if dtype == pl.Int64 else column.cast(pl.Int64)
            raw = (as_int.fill_null(0) if nulls else as_int).to_numpy()
            den = 1
        elif dtype.is_float() or dtype.is_decimal():
            as_float = column if dtype == pl.Float64 else column.cast(pl.Float64)
            values_f = (as_float.fill_null(0.0) if nulls else as_float).to_numpy()
            if not np.all(np.isfinite(values_f)):
                raise FrameError(
                    f"the {scope} frame's `{name}` column holds a NaN or infinite value"
                )
            raw = np.rint(values_f * SCALE).astype(np.int64)
            den = SCALE
        else:
            raise FrameError(
                f"the {scope} frame's column `{name}` has type {dtype}; metrics must be numbers "
                "or booleans and attributes strings"
            )
        # Store in 32 bits when every value fits: half the memory; products are taken in 64 bits.
        small = raw.size == 0 or (int(raw.min()) > -(2**31) and int(raw.max()) < 2**31)
        num: Int = np.zeros(u_count * d_count, dtype=np.int32 if small else np.int64)
        num[flat] = raw
        del raw
        grid.metrics[name] = Rational(num.reshape(u_count, d_count), den, known_grid)
    return grid


@dataclass(frozen=True)
class DenseFrame:
    """One scope's metrics already as arrays, a row for every unit and day: ``metrics`` maps a
    metric to its (units x days) values (integers or floats) from ``first``; ``attributes``
    maps an attribute to one string per unit. It stands for the metric frame of the same rows
    (units in order, each unit's days in order), and :func:`dense_grid` builds the grid that
    ``build_grid`` builds from that frame without the frame (a simulator's loop evaluates
    arrays it holds)."""

    units: list[str]
    first: dt.date
    days: int
    metrics: Mapping[str, npt.NDArray[Any]]
    attributes: Mapping[str, Sequence[str | None]] = field(default_factory=dict)


def dense_grid(scope: str, dense: DenseFrame, axis: Axis) -> Grid:
    """``build_grid`` of the frame ``dense`` stands for, from its arrays."""
    names = np.asarray(dense.units if dense.days else [], dtype=object).astype(str)
    order = None
    if names.size > 1 and not bool((names[1:] > names[:-1]).all()):
        order = np.argsort(names, kind="stable")  # build_grid orders units by name
        names = names[order]
        if bool((names[1:] == names[:-1]).any()):
            raise FrameError(
                f"the {scope} frame has more than one row for the same unit and day, e.g. "
                f"{names[1:][names[1:] == names[:-1]][0]} on {dense.first}"
            )
    u_count, d_count, k = names.size, axis.days, dense.days
    offset = axis.index(dense.first)
    if k and u_count and (offset < 0 or offset + k > d_count):
        raise FrameError(
            f"the {scope} frame has dates outside {axis.start} .. {axis.date(axis.days - 1)}"
        )
    present = np.zeros((u_count, d_count), dtype=bool)
    present[:, offset : offset + k] = True
    grid = Grid(scope, names.tolist(), axis, present)
    for name, values in dense.metrics.items():
        rows = values[: names.size] if order is None else values[order]
        if rows.dtype.kind == "f":
            if not np.all(np.isfinite(rows)):
                raise FrameError(
                    f"the {scope} frame's `{name}` column holds a NaN or infinite value"
                )
            raw = np.rint(rows * SCALE).astype(np.int64)
            den = SCALE
        elif rows.dtype.kind in "iub":
            raw, den = rows.astype(np.int64, copy=False), 1
        else:
            raise FrameError(
                f"the {scope} frame's column `{name}` has type {rows.dtype}; metrics must be "
                "numbers or booleans and attributes strings"
            )
        small = raw.size == 0 or (int(raw.min()) > -(2**31) and int(raw.max()) < 2**31)
        num: Int = np.zeros((u_count, d_count), dtype=np.int32 if small else np.int64)
        num[:, offset : offset + k] = raw
        grid.metrics[name] = Rational(num, den, present)
    for name, per_unit in dense.attributes.items():
        chosen = np.array(["" if v is None else v for v in per_unit[: names.size]], dtype=object)
        grid.attributes[name] = (chosen if order is None else chosen[order]).astype(str)
    return grid

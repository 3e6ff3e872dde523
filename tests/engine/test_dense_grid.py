"""``dense_grid`` (a scope's metrics handed over as arrays) builds the grid ``build_grid``
builds from the frame the arrays stand for: random units in and out of name order, integer,
float and large metrics, attributes with gaps, rows on part of a longer axis; and the same
errors for duplicate units, dates outside the axis and NaN."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

from schoolmode.engine.grid import Axis, Calendar, DenseFrame, FrameError, build_grid, dense_grid

START = dt.date(2022, 1, 3)


def _frame(dense: DenseFrame) -> pl.DataFrame:
    """The metric frame ``dense`` stands for: each unit's days in order."""
    n, k = len(dense.units), dense.days
    epoch = (dense.first - dt.date(1970, 1, 1)).days
    cols: dict[str, object] = {
        "unit": pl.Series("unit", [u for u in dense.units for _ in range(k)], pl.String),
        "date": pl.Series(
            "date", (np.tile(np.arange(k), n) + epoch).astype("datetime64[D]"), pl.Date
        ),
    }
    for name, values in dense.attributes.items():
        cols[name] = pl.Series(name, [v for v in values for _ in range(k)], dtype=pl.String)
    for name, arr in dense.metrics.items():
        cols[name] = arr.ravel()
    return pl.DataFrame(cols)


def _dense(rng: np.random.Generator) -> tuple[DenseFrame, Axis]:
    n, k = int(rng.integers(0, 7)), int(rng.integers(0, 9))
    names = [f"u{i:02d}" for i in rng.permutation(40)[:n]]
    if rng.random() < 0.5:
        names.sort()
    before, after = int(rng.integers(0, 4)), int(rng.integers(0, 4))
    first = START + dt.timedelta(days=before)
    axis = Axis.spanning(START, first + dt.timedelta(days=k - 1 + after), Calendar())
    metrics = {
        "cases": rng.integers(0, 5, (n, k)),
        "big": rng.integers(0, 2**40, (n, k)) * int(rng.integers(0, 2)),
        "negative": rng.integers(-(2**33), 3, (n, k)),
        "share": np.round(rng.random((n, k)) * 100, int(rng.integers(0, 8))),
    }
    attributes = {"parent": [None if rng.random() < 0.2 else f"s{i % 3}" for i in range(n)]}
    return DenseFrame(names, first, k, metrics, attributes), axis


@pytest.mark.parametrize("seed", range(60))
def test_the_grid_of_the_arrays_is_the_grid_of_their_frame(seed: int) -> None:
    dense, axis = _dense(np.random.default_rng(seed))
    want, got = build_grid("school", _frame(dense), axis), dense_grid("school", dense, axis)
    assert got.units == want.units
    assert np.array_equal(got.present, want.present)
    assert list(got.metrics) == list(want.metrics)
    for name, r in want.metrics.items():
        g = got.metrics[name]
        assert g.num.dtype == r.num.dtype, name
        assert (g.den, np.array_equal(g.num, r.num), np.array_equal(g.known, r.known)) == (
            r.den,
            True,
            True,
        ), name
    assert list(got.attributes) == list(want.attributes)
    for name, values in want.attributes.items():
        assert got.attributes[name].tolist() == values.tolist(), name


def _error(make: Callable[[], object]) -> str:
    with pytest.raises(FrameError) as caught:
        make()
    return str(caught.value).split(",")[0]


def test_the_same_errors_as_the_frame() -> None:
    axis = Axis.spanning(START, START + dt.timedelta(days=5), Calendar())
    twice = DenseFrame(["b", "a", "b"], START, 2, {"cases": np.zeros((3, 2), dtype=np.int64)})
    late = DenseFrame(["a"], START + dt.timedelta(days=5), 2, {"cases": np.zeros((1, 2))})
    nan = DenseFrame(["a"], START, 2, {"share": np.array([[1.0, np.nan]])})
    for dense in (twice, late, nan):
        assert _error(lambda d=dense: dense_grid("school", d, axis)) == _error(
            lambda d=dense: build_grid("school", _frame(d), axis)
        )


@pytest.mark.parametrize("seed", range(20))
def test_an_axis_has_its_calendar_days_each_time(seed: int) -> None:
    """``Axis.spanning`` remembers the school days of a span: the same as the calendar's
    mask every time, and an axis changed in place leaves the next one as it was."""
    rng = np.random.default_rng(seed)
    days = [START + dt.timedelta(days=i) for i in range(60)]
    calendars = [
        Calendar(),
        Calendar(holidays=frozenset(d for d in days if rng.random() < 0.2)),
        Calendar(school_days=frozenset(d for d in days if rng.random() < 0.6)),
        Calendar(school_days={d for d in days if rng.random() < 0.6}),  # type: ignore[arg-type]
    ]
    for calendar in calendars:
        first = START + dt.timedelta(days=int(rng.integers(0, 30)))
        n = int(rng.integers(0, 30))
        want = calendar.mask([first + dt.timedelta(days=i) for i in range(n)])
        for _ in range(2):
            axis = Axis.spanning(first, first + dt.timedelta(days=n - 1), calendar)
            assert axis.days == n
            assert np.array_equal(axis.school, want)
            axis.school[:] = ~axis.school

"""Blank counts in a release (``Release.add(..., blanks=True)``): a figure that does not
exist (the citywide positive tests after CDPH's daily by-test series ended) is published as a
blank, never named as suppressed, and the relations that involve it are dropped; the counts
around it are protected as before (the attacker recovers no hidden cell)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from schoolmode.app.releases import CITY_COUNTS, city_release
from schoolmode.disclosure import SUPPRESSED, Release, rule_on
from tests.disclosure.attacker import recovered

FIRST = dt.date(2021, 11, 1)
RULE = rule_on(FIRST)
DAYS = 30
SEAM = 15
"""The positive tests stop after the 15th day; the cases go on."""


def _city(small: dict[int, int] | None = None) -> pl.DataFrame:
    """Citywide 7- and 14-day counts over ``DAYS`` days, each 7-day count a made-up series
    (``small``: a day's 7-day cases replaced, the 14-day ones kept consistent)."""
    cases7 = [400 + 13 * k for k in range(DAYS)]
    for k, v in (small or {}).items():
        cases7[k] = v
    positive7 = [200 + 7 * k if k < SEAM else None for k in range(DAYS)]

    def fourteen(series: list[int | None], k: int) -> int | None:
        a, b = series[k], series[k - 7] if k >= 7 else None
        return None if a is None or b is None else a + b

    return pl.DataFrame(
        {
            "unit": ["Chicago"] * DAYS,
            "date": [FIRST + dt.timedelta(days=k) for k in range(DAYS)],
            "positive_7d": positive7,
            "positive_14d": [fourteen(positive7, k) for k in range(DAYS)],
            "cases_7d": cases7,
            "cases_14d": [fourteen(cases7, k) for k in range(DAYS)],  # type: ignore[arg-type]
        },
        schema={"unit": pl.String, "date": pl.Date} | dict.fromkeys(CITY_COUNTS, pl.Int64),
    )


def test_a_blank_is_refused_unless_blanks_are_allowed() -> None:
    rel = Release()
    with pytest.raises(ValueError, match="table citywide, column positive_7d: a blank count"):
        rel.add("citywide", _city(), ("unit", "date"), CITY_COUNTS)


def test_blanks_are_published_blank_and_never_named_suppressed() -> None:
    city = _city()
    out, notes = city_release({"citywide": city}, RULE)
    got = out["citywide"]
    assert notes == []
    assert got[SUPPRESSED].null_count() == got.height  # nothing small: nothing hidden
    for c in CITY_COUNTS:  # every figure as it was, the blanks blank
        assert got[c].to_list() == city[c].to_list()


def test_relations_with_a_blank_are_dropped_and_the_rest_kept() -> None:
    rel = Release()
    rel.add("citywide", _city(), ("unit", "date"), CITY_COUNTS, blanks=True)
    for kind in ("positive", "cases"):
        rel.lagged("citywide", f"{kind}_14d", [(f"{kind}_7d", 0), (f"{kind}_7d", 7)])
    cells = rel.cells()
    blank = ~cells.published
    assert all(not blank[c] for r in cells.relations for c in r.cells)
    # the 14-day positives of days 7..14 and the 14-day cases of days 7..29
    assert len(cells.relations) == (SEAM - 7) + (DAYS - 7)
    assert blank.sum() == 2 * (DAYS - SEAM) + 7 + 7  # positives after the seam, the first 14d


def test_a_small_count_beside_blanks_is_protected() -> None:
    # day 20 (after the seam): 7 cases in 7 days; the 14-day counts that include it relate it
    # to the 7-day counts a week apart, published: complements are needed
    city = _city({20: 7})
    out, _ = city_release({"citywide": city}, RULE)
    got = out["citywide"]
    row = got.row(20, named=True)
    assert row["cases_7d"] is None
    assert "cases_7d" in (row[SUPPRESSED] or "")
    assert "positive_7d" not in (row[SUPPRESSED] or "")  # a blank, not a hidden figure
    rel = Release()
    rel.add("citywide", city, ("unit", "date"), CITY_COUNTS, blanks=True)
    for kind in ("positive", "cases"):
        rel.lagged("citywide", f"{kind}_14d", [(f"{kind}_7d", 0), (f"{kind}_7d", 7)])
    cells = rel.cells()
    hidden = np.zeros(len(cells.values), dtype=bool)
    table = rel.tables["citywide"]
    for r in range(got.height):
        for c in CITY_COUNTS:
            if got[c][r] is None and city[c][r] is not None:
                hidden[table.cell(r, c)] = True
    assert hidden.sum() >= 2  # the small count and at least one complement
    targets = [int(c) for c in np.flatnonzero(hidden)]
    assert recovered(cells.values, cells.published, hidden, cells.relations, targets) == []

"""No silent defaults: a unit-day whose trigger rule's inputs are outside their series' days
(before the first value of a metric or after its last) is ``no_data``, never the default
mode; inside a series a day without a value is a day with nothing reported (property tests
against a reference written here, and the edge cases)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schoolmode.engine.evaluate import evaluate
from schoolmode.engine.reference import evaluate_reference
from schoolmode.policy import model as m
from tests.engine.test_properties import MONDAY, make_policy

FAST = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ANY_A_B: dict[str, Any] = {
    "any": [
        {"threshold": {"of": {"metric": "a"}, "op": ">=", "value": 5}},
        {"threshold": {"of": {"metric": "b"}, "op": ">=", "value": 7}},
    ]
}

Reading = int | None
"""A metric's reading on a day: None when the row has no value."""


@st.composite
def series(draw: st.DrawFn) -> dict[tuple[str, int], tuple[Reading, Reading] | None]:
    """Per unit and day: the readings of ``a`` and ``b``, or None for a day without a row
    (random gaps: missing rows and missing values)."""
    units = draw(st.integers(1, 3))
    days = draw(st.integers(1, 12))
    reading = st.one_of(st.none(), st.integers(0, 10))
    row = st.one_of(st.none(), st.tuples(reading, reading))
    out = {(f"s{u}", d): draw(row) for u in range(units) for d in range(days)}
    if all(v is None for v in out.values()):
        out[("s0", 0)] = (0, 0)  # the engine needs one row to know the units and days
    return out


def _frame(data: dict[tuple[str, int], tuple[Reading, Reading] | None]) -> pl.DataFrame:
    rows = [
        {"unit": unit, "date": MONDAY + dt.timedelta(days=day), "a": ab[0], "b": ab[1]}
        for (unit, day), ab in sorted(data.items())
        if ab is not None
    ]
    return pl.DataFrame(
        rows, schema={"unit": pl.String, "date": pl.Date, "a": pl.Int64, "b": pl.Int64}
    )


def spans(
    data: dict[tuple[str, int], tuple[Reading, Reading] | None],
) -> list[tuple[int, int] | None]:
    """Each metric's series (``a``, ``b``): the first and last day any unit has a value for it,
    None without a value."""
    out: list[tuple[int, int] | None] = []
    for index in (0, 1):
        days = [d for (_, d), ab in data.items() if ab is not None and ab[index] is not None]
        out.append((min(days), max(days)) if days else None)
    return out


def reference(
    data: dict[tuple[str, int], tuple[Reading, Reading] | None],
) -> dict[tuple[str, dt.date], str]:
    """The mode of each unit-day of the policy ``any(a >= 5, b >= 7) -> remote`` evaluated by
    hand: the condition, evaluated on day d (data through d), puts the unit remote on d + 1
    (notice 0) until the day after it no longer holds; a day it does not put the unit remote
    is ``no_data`` when the day before is outside the series of ``a`` or of ``b`` (before the
    first day any unit has a value for it or after the last) and the condition did not hold
    then, else ``in_person`` (a missing value inside a series is nothing reported); the first
    day rests on no evaluated day: ``in_person``."""
    units = sorted({u for (u, _), ab in data.items() if ab is not None})  # a unit has a row
    days = 1 + max(d for _, d in data)
    series_days = spans(data)

    def readings(unit: str, day: int) -> tuple[Reading, Reading]:
        got = data.get((unit, day))
        return (None, None) if got is None else got

    def holds(unit: str, day: int) -> bool:
        a, b = readings(unit, day)
        return (a is not None and a >= 5) or (b is not None and b >= 7)

    def outside(day: int) -> bool:
        return any(s is None or not s[0] <= day <= s[1] for s in series_days)

    out: dict[tuple[str, dt.date], str] = {}
    for unit in units:
        for day in range(days):
            if day > 0 and holds(unit, day - 1):
                mode = "remote"
            elif day > 0 and outside(day - 1):
                mode = "no_data"
            else:
                mode = "in_person"
            out[(unit, MONDAY + dt.timedelta(days=day))] = mode
    return out


def _modes(
    policy: m.Policy, frame: pl.DataFrame, days: int | None = None
) -> dict[tuple[str, dt.date], str]:
    span = None if days is None else (MONDAY, MONDAY + dt.timedelta(days=days - 1))
    got = evaluate(policy, {"school": frame}, span=span).frame("school", only_present=False)
    return {
        (unit, day): str(mode) for unit, day, mode in got.select("unit", "date", "mode").iter_rows()
    }


@FAST
@given(data=series())
def test_engine_equals_the_reference_on_series_with_gaps(
    data: dict[tuple[str, int], tuple[Reading, Reading] | None],
) -> None:
    days = 1 + max(d for _, d in data)
    assert _modes(make_policy(ANY_A_B), _frame(data), days) == reference(data)


@FAST
@given(data=series())
def test_a_day_outside_a_series_never_gives_the_default_mode(
    data: dict[tuple[str, int], tuple[Reading, Reading] | None],
) -> None:
    got = _modes(make_policy(ANY_A_B), _frame(data), 1 + max(d for _, d in data))
    assert got
    series_days = spans(data)
    for (unit, day), mode in got.items():
        # the mode of a day rests on the readings of the day before (notice 0)
        before = (day - MONDAY).days - 1
        a, b = data.get((unit, before)) or (None, None)
        decided = (a is not None and a >= 5) or (b is not None and b >= 7)  # the rule held
        ended = any(s is None or not s[0] <= before <= s[1] for s in series_days)
        if before >= 0 and ended and not decided:
            assert mode == "no_data", (unit, day, (a, b))
        if mode == "no_data":
            assert before >= 0, (unit, day)
            assert ended, (unit, day)


@FAST
@given(data=series())
def test_the_reference_engine_agrees(
    data: dict[tuple[str, int], tuple[Reading, Reading] | None],
) -> None:
    """The package's pure reference engine (engine/reference.py) gives the engine's modes (both
    over the days from the frame's first row to its last)."""
    policy = make_policy(ANY_A_B)
    got = evaluate_reference(policy, {"school": _frame(data)})
    modes = {
        (unit, day): str(mode)
        for unit, day, mode in got["school"].select("unit", "date", "mode").iter_rows()
    }
    assert modes == _modes(policy, _frame(data))


def test_outside_the_term_and_without_a_parameter_it_is_not_no_data() -> None:
    """A day outside the term is ``not_in_force``; a rule whose parameter has no value that
    day does not apply (it is not missing data)."""
    policy = make_policy(
        {"threshold": {"of": {"metric": "a"}, "op": ">=", "value": {"param": "limit"}}},
        {
            "limit": {
                "description": "limit",
                "unit": "count",
                "values": [
                    {
                        "from": MONDAY + dt.timedelta(days=2),
                        "value": 5,
                        "clause": "c",
                        "source": "test",
                        "confidence": "U",
                    }
                ],
            }
        },
    )
    policy = policy.model_copy(
        update={"term": policy.term.model_copy(update={"from_": MONDAY + dt.timedelta(days=1)})}
    )
    frame = pl.DataFrame(
        {
            "unit": ["s"] * 5,
            "date": [MONDAY + dt.timedelta(days=d) for d in range(5)],
            "a": [None, None, None, 1, 1],
        },
        schema={"unit": pl.String, "date": pl.Date, "a": pl.Int64},
    )
    got = [_modes(policy, frame)[("s", MONDAY + dt.timedelta(days=d))] for d in range(5)]
    # day 1 rests on day 0 (outside the term), day 2 on day 1 (no limit yet: the rule does
    # not apply), day 3 on day 2 (no reading: no_data), day 4 on day 3 (a reading below it)
    assert got == ["not_in_force", "in_person", "in_person", "no_data", "in_person"]


def test_a_metric_the_frames_lack_is_listed_and_a_column_without_values_is_no_data() -> None:
    """A metric the frames lack altogether is listed as missing (an error with ``strict``),
    not a series that ended; a column the caller gives without any value is a series with
    no days: every day resting on it is ``no_data``."""
    days = [MONDAY, MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=2)]
    policy = make_policy({"threshold": {"of": {"metric": "a"}, "op": ">=", "value": 5}})
    lacking = pl.DataFrame({"unit": ["s"] * 3, "date": days, "b": [0, 0, 0]})
    evaluation = evaluate(policy, {"school": lacking})
    assert evaluation.missing_metrics == {("school", "a")}
    assert evaluation.frame("school")["mode"].cast(pl.String).to_list() == ["in_person"] * 3
    blank = lacking.with_columns(pl.lit(None, dtype=pl.Int64).alias("a"))
    modes = evaluate(policy, {"school": blank}).frame("school")["mode"].cast(pl.String)
    assert modes.to_list() == ["in_person", "no_data", "no_data"]  # day 0 rests on no day

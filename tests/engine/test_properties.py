"""Properties of the engine: monotone thresholds, window edges, missing days, unit order,
parameter date order and empty overlays."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schoolmode.engine.evaluate import evaluate
from schoolmode.engine.grid import Calendar
from schoolmode.policy import model as m
from schoolmode.policy.overlay import apply_overlay
from tests.engine.test_reference import POLICIES, assert_same, scenarios

MONDAY = dt.date(2022, 1, 3)
FAST = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def make_policy(
    when: dict[str, Any], parameters: dict[str, Any] | None = None, **rule: Any
) -> m.Policy:
    return m.Policy.model_validate(
        {
            "id": "synthetic",
            "title": "Synthetic policy",
            "kind": "proposal",
            "jurisdiction": "Nowhere",
            "parties": ["Tests"],
            "status": "proposed",
            "version": 1,
            "term": {"from": "2020-01-01"},
            "summary": "A policy built by a test.",
            "sources": {"test": {"title": "The test"}},
            "modes": [
                {"id": "in_person", "label": "In person"},
                {"id": "remote", "label": "Remote"},
            ],
            "metrics": {"a": "a count", "b": "another count"},
            "parameters": parameters or {},
            "rules": [
                {
                    "id": "r",
                    "title": "rule",
                    "scope": "school",
                    "confidence": "U",
                    "when": when,
                    "effect": {"mode": "remote", "action": "automatic"},
                    **rule,
                }
            ],
        }
    )


def trigger(
    policy: m.Policy, frame: pl.DataFrame, calendar: Calendar | None = None
) -> pl.DataFrame:
    out = evaluate(policy, {"school": frame}, calendar=calendar).frame("school", only_present=False)
    return out.select("unit", "date", pl.col("trigger.r").alias("t")).sort("unit", "date")


def by_day(frame: pl.DataFrame) -> dict[dt.date, bool]:
    return dict(zip(frame["date"], frame["t"], strict=True))


# ------------------------------------------------------------------ monotonicity

MONOTONE_OPERANDS: list[dict[str, Any]] = [
    {"metric": "a"},
    {"window_sum": {"of": {"metric": "a"}, "days": 3}},
    {"window_sum": {"of": {"metric": "a"}, "days": 2, "unit": "school_days"}},
    {"share": {"of": {"metric": "a"}, "per": {"metric": "b"}}},
    {"difference": {"of": {"metric": "a"}, "minus": {"metric": "b"}}},
]


@st.composite
def grids(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A frame and the same frame with `a` raised on some unit-days."""
    units = draw(st.integers(1, 4))
    days = draw(st.integers(3, 20))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    rows = []
    for u in range(units):
        for d in range(days):
            if rng.random() < 0.85:
                a = rng.choice([None, *range(12)])
                rows.append(
                    {
                        "unit": f"s{u}",
                        "date": MONDAY + dt.timedelta(d),
                        "a": a,
                        "b": rng.choice([0, 10, 20, 40]),
                    }
                )
    rows = rows or [{"unit": "s0", "date": MONDAY, "a": 0, "b": 40}]
    base = pl.DataFrame(
        rows, schema={"unit": pl.String, "date": pl.Date, "a": pl.Int64, "b": pl.Int64}
    )
    bumps = [rng.choice([0, 0, 1, 3, 20]) for _ in range(base.height)]
    raised = base.with_columns(pl.col("a") + pl.Series(bumps))
    return base, raised


@FAST
@given(
    pair=grids(),
    operand=st.sampled_from(MONOTONE_OPERANDS),
    op=st.sampled_from([">=", ">"]),
    value=st.sampled_from([0, 1, 5, 10, 30, 50]),
    wrap=st.sampled_from(["plain", "sustained", "any"]),
)
def test_raising_a_metric_never_clears_a_lower_bound_threshold(
    pair: tuple[pl.DataFrame, pl.DataFrame], operand: dict[str, Any], op: str, value: int, wrap: str
) -> None:
    cond: dict[str, Any] = {"threshold": {"of": operand, "op": op, "value": value}}
    if wrap == "sustained":
        cond = {"sustained": {"condition": cond, "days": 2}}
    elif wrap == "any":
        cond = {"any": [cond, {"threshold": {"of": {"metric": "b"}, "op": "==", "value": 20}}]}
    policy = make_policy(cond)
    before, after = (trigger(policy, f) for f in pair)
    lost = before.filter(pl.col("t") & ~after["t"])
    assert lost.height == 0, f"raising `a` cleared the trigger on:\n{lost}"


# ------------------------------------------------------------------ window edges


@FAST
@given(n=st.integers(1, 10), k=st.integers(0, 5))
def test_a_count_is_in_the_window_for_exactly_n_days(n: int, k: int) -> None:
    days = k + n + 4
    frame = pl.DataFrame(
        {
            "unit": ["s"] * days,
            "date": [MONDAY + dt.timedelta(d) for d in range(days)],
            "a": [1 if d == k else 0 for d in range(days)],
        }
    )
    calendar = Calendar(school_days=frozenset(MONDAY + dt.timedelta(d) for d in range(days)))
    for kind, width in [("last_days", n), ("within_days_of_each_other", n + 1), ("to_date", days)]:
        policy = make_policy(
            {
                "threshold": {
                    "of": {"window_sum": {"of": {"metric": "a"}, "days": n, "kind": kind}},
                    "op": ">=",
                    "value": 1,
                }
            }
        )
        got = by_day(trigger(policy, frame, calendar))
        for d in range(days):
            inside = k <= d < k + width  # d - k days back: in the window iff d - k <= width - 1
            assert got[MONDAY + dt.timedelta(d)] is inside, (kind, n, k, d)


def test_a_school_day_window_skips_weekends() -> None:
    """A 2-school-day window on Monday reaches back to Friday; Saturday's count is ignored."""
    days = [MONDAY + dt.timedelta(d) for d in range(4, 12)]  # Friday .. next Friday
    counts = {MONDAY + dt.timedelta(4): 1, MONDAY + dt.timedelta(5): 5}  # Friday 1, Saturday 5
    frame = pl.DataFrame(
        {"unit": ["s"] * len(days), "date": days, "a": [counts.get(d, 0) for d in days]}
    )
    policy = make_policy(
        {
            "threshold": {
                "of": {"window_sum": {"of": {"metric": "a"}, "days": 2, "unit": "school_days"}},
                "op": ">=",
                "value": 1,
            }
        }
    )
    got = by_day(trigger(policy, frame))
    friday, monday, tuesday = days[0], days[3], days[4]
    assert got[friday]
    assert got[monday]  # Friday's count is one of the last two school days
    assert not got[tuesday]
    policy6 = make_policy(
        {
            "threshold": {
                "of": {"window_sum": {"of": {"metric": "a"}, "days": 2, "unit": "school_days"}},
                "op": ">=",
                "value": 6,
            }
        }
    )
    assert not any(by_day(trigger(policy6, frame)).values())


# ------------------------------------------------------------------ missing days


def _sustained(unit: str) -> m.Policy:
    return make_policy(
        {
            "sustained": {
                "condition": {"threshold": {"of": {"metric": "a"}, "op": ">=", "value": 1}},
                "days": 2,
                "unit": unit,
            }
        }
    )


def test_a_missing_day_breaks_a_calendar_day_run() -> None:
    days = [MONDAY + dt.timedelta(d) for d in (0, 1, 3, 4)]  # Wednesday missing
    frame = pl.DataFrame({"unit": ["s"] * 4, "date": days, "a": [1, 1, 1, 1]})
    got = by_day(trigger(_sustained("calendar_days"), frame))
    assert [got[d] for d in days] == [False, True, False, True]
    assert got[MONDAY + dt.timedelta(2)] is False


def test_school_day_runs_skip_weekends_but_not_missing_school_days() -> None:
    friday, monday, tuesday, wednesday = (MONDAY + dt.timedelta(d) for d in (4, 7, 8, 9))
    frame = pl.DataFrame({"unit": ["s"] * 3, "date": [friday, monday, wednesday], "a": [1, 1, 1]})
    school = by_day(trigger(_sustained("school_days"), frame))
    calendar = by_day(trigger(_sustained("calendar_days"), frame))
    assert school[monday] is True  # Friday then Monday are consecutive school days
    assert calendar[monday] is False  # the weekend has no data
    assert school[wednesday] is False  # Tuesday, a school day, is missing
    assert school[tuesday] is False


# ------------------------------------------------------------------ unit order


def _relabel(scenario: dict[str, Any], seed: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Shuffle every frame's rows and rename units by a random permutation of names."""
    rng = random.Random(seed)
    names: dict[str, str] = {}
    for frame in scenario["frames"].values():
        units = sorted(set(frame["unit"].to_list()))
        shuffled = units[:]
        rng.shuffle(shuffled)
        names.update({u: f"x{v}" for u, v in zip(units, shuffled, strict=True)})

    def rename(col: str) -> pl.Expr:
        return pl.col(col).replace(names)

    frames = {}
    for scope, frame in scenario["frames"].items():
        renamed = frame.with_columns(rename("unit"))
        if "parent" in frame.columns:
            renamed = renamed.with_columns(rename("parent"))
        frames[scope] = renamed.sample(fraction=1.0, shuffle=True, seed=seed)
    auth = scenario["authorisations"]
    if auth is not None:
        auth = auth.with_columns(rename("unit")).sample(fraction=1.0, shuffle=True, seed=seed)
    return {**scenario, "frames": frames, "authorisations": auth}, names


@pytest.mark.parametrize("policy", POLICIES, ids=[p.id for p in POLICIES])
def test_shuffling_and_renaming_units_changes_no_unit_result(policy: m.Policy) -> None:
    @settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(scenario=scenarios(policy), seed=st.integers(0, 2**16))
    def check(scenario: dict[str, Any], seed: int) -> None:
        moved, names = _relabel(scenario, seed)
        kwargs = {k: scenario[k] for k in ("calendar", "settings", "authorisations")}
        base = evaluate(policy, scenario["frames"], **kwargs)
        kwargs["authorisations"] = moved["authorisations"]
        other = evaluate(policy, moved["frames"], **kwargs)
        back = {v: k for k, v in names.items()}
        for scope in base.scopes:
            want = base.frame(scope, only_present=False).drop(pl.selectors.starts_with("level."))
            got = other.frame(scope, only_present=False).drop(pl.selectors.starts_with("level."))
            got = got.with_columns(pl.col("unit").replace(back)).sort("unit", "date")
            assert got.equals(want.sort("unit", "date"))

    check()


# ------------------------------------------------------------------ parameter dates


def _dated(day: dt.date, value: int) -> dict[str, Any]:
    return {
        "from": day.isoformat(),
        "value": value,
        "clause": "c",
        "source": "s",
        "confidence": "U",
    }


@FAST
@given(offsets=st.lists(st.integers(0, 60), min_size=1, max_size=6))
def test_parameter_dates_must_increase(offsets: list[int]) -> None:
    days = [MONDAY + dt.timedelta(o) for o in offsets]
    raw = {"description": "p", "values": [_dated(d, i) for i, d in enumerate(days)]}
    increasing = all(a < b for a, b in itertools.pairwise(days))
    if increasing:
        assert [v.from_ for v in m.Parameter.model_validate(raw).values] == days
    else:
        with pytest.raises(ValidationError, match="increasing date order"):
            m.Parameter.model_validate(raw)


def test_out_of_order_dates_name_both_dates() -> None:
    raw = {
        "description": "p",
        "values": [_dated(dt.date(2022, 2, 1), 5), _dated(dt.date(2022, 1, 11), 10)],
    }
    with pytest.raises(ValidationError) as caught:
        m.Parameter.model_validate(raw)
    text = str(caught.value)
    assert "2022-01-11 comes after 2022-02-01" in text
    assert "sort the list by `from`" in text


# ------------------------------------------------------------------ overlays


def _empty_overlay(base: m.Policy) -> m.Overlay:
    return m.Overlay.model_validate(
        {
            "id": f"{base.id}-same",
            "overlay_of": base.id,
            "title": "No changes",
            "parties": list(base.parties),
            "summary": "An overlay that changes nothing.",
        }
    )


@pytest.mark.parametrize("policy", POLICIES, ids=[p.id for p in POLICIES])
def test_an_empty_overlay_evaluates_like_its_base(policy: m.Policy) -> None:
    resolved = apply_overlay(policy, _empty_overlay(policy))
    assert resolved.rules == policy.rules
    assert resolved.parameters == policy.parameters
    assert resolved.interpretations == policy.interpretations
    assert resolved.term == policy.term
    assert resolved.modes == policy.modes

    @settings(max_examples=4, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(scenario=scenarios(policy))
    def check(scenario: dict[str, Any]) -> None:
        kwargs = {k: scenario[k] for k in ("calendar", "settings", "authorisations")}
        base = evaluate(policy, scenario["frames"], **kwargs)
        same = evaluate(resolved, scenario["frames"], **kwargs)
        assert set(base.scopes) == set(same.scopes)
        for scope in base.scopes:
            a = base.frame(scope, only_present=False).drop(pl.selectors.starts_with("level."))
            b = same.frame(scope, only_present=False).drop(pl.selectors.starts_with("level."))
            assert a.equals(b)

    check()


def test_reference_agrees_on_dated_parameter_change() -> None:
    """A parameter whose value changes mid-run: each day uses the value in force that day."""
    policy = make_policy(
        {"threshold": {"of": {"metric": "a"}, "op": ">=", "value": {"param": "p"}}},
        parameters={
            "p": {
                "description": "limit",
                "values": [
                    {**_dated(MONDAY + dt.timedelta(2), 5), "source": "test"},
                    {**_dated(MONDAY + dt.timedelta(4), 3), "source": "test"},
                    {
                        "from": (MONDAY + dt.timedelta(6)).isoformat(),
                        "value": None,
                        "clause": "c",
                        "source": "test",
                        "confidence": "U",
                    },
                ],
            }
        },
    )
    days = [MONDAY + dt.timedelta(d) for d in range(8)]
    frame = pl.DataFrame({"unit": ["s"] * 8, "date": days, "a": [4] * 8})
    got = by_day(trigger(policy, frame))
    # no value yet, 5 > 4, 5 > 4, 3 <= 4, 3 <= 4, null (inactive) twice
    assert [got[d] for d in days] == [False, False, False, False, True, True, False, False]
    assert_same(
        policy,
        {
            "frames": {"school": frame},
            "calendar": Calendar(),
            "settings": None,
            "authorisations": None,
        },
    )


def test_decimal_literals_compare_exactly() -> None:
    policy = make_policy(
        {
            "threshold": {
                "of": {"share": {"of": {"metric": "a"}, "per": {"metric": "b"}}},
                "op": ">=",
                "value": Decimal("30"),
            }
        }
    )
    frame = pl.DataFrame(
        {"unit": ["s", "t"], "date": [MONDAY, MONDAY], "a": [12, 11], "b": [40, 40]}
    )
    out = trigger(policy, frame)
    assert out["t"].to_list() == [True, False]

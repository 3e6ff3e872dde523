"""The vectorised engine agrees with the per-row reference evaluator on random inputs.

For every shipped policy with rules, hypothesis draws small metric frames (1-6 units,
5-40 days, random gaps and nulls, values that often sit exactly on a threshold such as
12/40 = 30%), a calendar, interpretation readings and authorisations, and checks that
``evaluate(...).frame(scope, only_present=False)`` equals ``evaluate_reference`` on
every unit-day and every column.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from schoolmode.engine.evaluate import evaluate
from schoolmode.engine.grid import Calendar
from schoolmode.engine.reference import evaluate_reference
from schoolmode.engine.settings import Settings
from schoolmode.policy import model as m
from schoolmode.policy.loader import Registry
from schoolmode.policy.walk import children

FLOAT_HINTS = ("pct", "per_100k", "positivity", "rate")
POOL = [0, 1, 2, 3, 4, 5, 8, 10, 12, 16, 20, 25, 30, 40, 50, 100, 200]


def _registry_policies() -> list[m.Policy]:
    registry = Registry()
    out = []
    for pid in registry.ids():
        policy = registry.get(pid).policy
        if policy.rules:
            out.append(policy)
    return out


def _with_return_notice(policy: m.Policy, days: int, unit: str) -> m.Policy:
    """The policy with a return notice on every trigger rule (no shipped policy has one yet):
    the engine and the reference must agree on it too."""
    notice = m.Duration(days=Decimal(days), unit=unit)
    rules = [
        r.model_copy(update={"timing": r.timing.model_copy(update={"return_notice": notice})})
        if r.when is not None
        else r
        for r in policy.rules
    ]
    return policy.model_copy(update={"id": f"{policy.id}+return-{days}-{unit}", "rules": rules})


POLICIES = _registry_policies()
CHECKED = POLICIES + [
    _with_return_notice(p, days, unit)
    for p in POLICIES
    if p.id in ("cps-ctu-2022-01-10", "cps-ctu-2021-02-06", "cambridge-2020-11-12")
    for days, unit in ((2, "school_days"), (3, "calendar_days"))
]


def needs(policy: m.Policy) -> dict[str, tuple[set[str], set[str]]]:
    """Scope -> (metric columns, attribute columns) the policy's rules read."""
    out: dict[str, tuple[set[str], set[str]]] = {}

    def need(scope: str) -> tuple[set[str], set[str]]:
        return out.setdefault(scope, (set(), set()))

    def visit(node: BaseModel, scope: str) -> None:
        if isinstance(node, m.MetricOp):
            need(scope)[0].add(node.metric)
        elif isinstance(node, m.AttributeCond):
            need(scope)[1].add(node.attribute.name)
        elif isinstance(node, m.ShareOfUnitsCond):
            child = node.share_of_units.scope.value
            need(child)[1].add("parent")
            visit(node.share_of_units.condition, child)
            return
        for sub in children(node):
            visit(sub, scope)

    for rule in policy.rules:
        need(rule.scope.value)
        visit(rule, rule.scope.value)
    return out


def numbers_of(policy: m.Policy) -> list[Decimal]:
    """Every numeric literal and parameter value of the policy: the interesting boundaries."""
    found: list[Decimal] = []
    for param in policy.parameters.values():
        found.extend(
            v.value
            for v in param.values
            if isinstance(v.value, Decimal) and not isinstance(v.value, bool)
        )

    def visit(node: BaseModel) -> None:
        for name in type(node).model_fields:
            value = getattr(node, name)
            if isinstance(value, Decimal):
                found.append(value)
        for sub in children(node):
            visit(sub)

    for rule in policy.rules:
        visit(rule)
    return sorted(set(found))


def anchors(policy: m.Policy) -> list[dt.date]:
    out = [policy.term.from_]
    if policy.term.to is not None:
        out.append(policy.term.to)
    for param in policy.parameters.values():
        out.extend(v.from_ for v in param.values)
    return sorted(set(out))


def metric_value(rng: random.Random, is_float: bool, boundaries: list[Decimal]) -> Any:
    roll = rng.random()
    if roll < 0.06:
        return None
    if roll < 0.4:
        value: Decimal = Decimal(rng.choice(POOL))
    elif roll < 0.7 and boundaries:
        value = rng.choice(boundaries)
        if is_float and rng.random() < 0.4:
            value += rng.choice([Decimal("-0.01"), Decimal("0.01"), Decimal("0.005")])
    else:
        value = Decimal(rng.randint(0, 6))
    if is_float:
        return float(abs(value)) + (rng.choice([0.0, 0.25, 0.5]) if rng.random() < 0.2 else 0.0)
    return int(abs(value))


@st.composite
def scenarios(draw: st.DrawFn, policy: m.Policy) -> dict[str, Any]:
    """Frames, calendar, settings and authorisations for one policy."""
    n_units = draw(st.integers(1, 6))
    n_days = draw(st.integers(5, 40))
    anchor = draw(st.sampled_from(anchors(policy)))
    start = anchor - dt.timedelta(days=draw(st.integers(0, n_days)))
    seed = draw(st.integers(0, 2**32 - 1))
    presence = draw(st.sampled_from([1.0, 0.9, 0.7]))
    rng = random.Random(seed)
    dates = [start + dt.timedelta(days=i) for i in range(n_days)]
    bounds = numbers_of(policy)
    wanted = needs(policy)
    scopes = [s.value for s in m.Scope if s.value in wanted]
    units: dict[str, list[str]] = {}
    for scope in scopes:
        count = n_units if scope != "district" else draw(st.integers(1, 2))
        units[scope] = [f"{scope[0]}{i}" for i in range(count)]
    parent_of = {"classroom": "school", "school": "district"}
    frames: dict[str, pl.DataFrame] = {}
    for scope in scopes:
        metrics, attrs = wanted[scope]
        floats = {name: any(h in name for h in FLOAT_HINTS) for name in sorted(metrics)}
        fixed: dict[str, dict[str, str]] = {}
        for unit in units[scope]:
            fixed[unit] = {}
            for attr in sorted(attrs):
                if attr == "parent":
                    parents = units.get(parent_of.get(scope, ""), ["nobody"])
                    fixed[unit][attr] = rng.choice([*parents, *parents, "elsewhere"])
                else:
                    fixed[unit][attr] = rng.choice(["ES", "MS", "HS", "ES"])
        rows: list[dict[str, Any]] = []
        for unit in units[scope]:
            # rates sometimes follow a rising walk, so that `trend` conditions can hold
            walks = {
                name: (rng.uniform(1, 10), rng.choice([1.0, 1.03, 1.06, 1.12]))
                for name, is_float in floats.items()
                if is_float and rng.random() < 0.5
            }
            for i, day in enumerate(dates):
                if rng.random() > presence:
                    continue
                row: dict[str, Any] = {"unit": unit, "date": day, **fixed[unit]}
                for name, is_float in floats.items():
                    if name in walks:
                        base, growth = walks[name]
                        wobble = rng.choice([1.0, 1.0, 1.0, 0.97, 1.01])
                        row[name] = round(base * growth**i * wobble, 3)
                    else:
                        row[name] = metric_value(rng, is_float, bounds)
                rows.append(row)
        if not rows:
            rows.append({"unit": units[scope][0], "date": dates[0], **fixed[units[scope][0]]})
        schema: dict[str, Any] = {"unit": pl.String, "date": pl.Date}
        schema.update(dict.fromkeys(sorted(attrs), pl.String))
        schema.update({n: pl.Float64 if f else pl.Int64 for n, f in floats.items()})
        frames[scope] = pl.DataFrame(rows, schema=schema)
    interps = {
        name: draw(st.sampled_from(spec.choices)) for name, spec in policy.interpretations.items()
    }
    calendar_kind = draw(st.sampled_from(["weekdays", "holidays", "explicit"]))
    if calendar_kind == "weekdays":
        calendar = Calendar()
    elif calendar_kind == "holidays":
        calendar = Calendar(holidays=frozenset(rng.sample(dates, k=min(3, len(dates)))))
    else:
        calendar = Calendar(school_days=frozenset(d for d in dates if rng.random() < 0.6))
    auth_rows = []
    for rule in policy.rules:
        if rule.effect is not None and rule.effect.action == m.Action.eligible:
            for unit in units.get(rule.scope.value, []):
                for day in dates:
                    if rng.random() < 0.08:
                        auth_rows.append({"unit": unit, "date": day, "rule": rule.id})
    authorisations = (
        pl.DataFrame(auth_rows, schema={"unit": pl.String, "date": pl.Date, "rule": pl.String})
        if auth_rows
        else None
    )
    return {
        "frames": frames,
        "calendar": calendar,
        "settings": Settings(interpretations=interps),
        "authorisations": authorisations,
    }


def _plain(frame: pl.DataFrame) -> pl.DataFrame:
    """Object columns (the engine's level columns) as strings, rows in one order."""
    return frame.with_columns(
        [
            pl.Series(name, frame[name].to_list(), dtype=pl.String)
            for name, dtype in frame.schema.items()
            if dtype == pl.Object
        ]
    ).sort("unit", "date")


def assert_same(policy: m.Policy, scenario: dict[str, Any]) -> None:
    evaluation = evaluate(policy, scenario["frames"], **_kwargs(scenario))
    reference = evaluate_reference(policy, scenario["frames"], **_kwargs(scenario))
    assert set(reference) == set(evaluation.scopes)
    for scope, expected in reference.items():
        got = _plain(evaluation.frame(scope, only_present=False))
        expected = expected.sort("unit", "date")
        assert got.columns == expected.columns
        assert got.height == expected.height
        for column in expected.columns:
            same = got[column].eq_missing(expected[column])
            if not same.all():
                bad = (
                    got.select("unit", "date", column)
                    .with_columns(expected[column].alias("reference"))
                    .filter(~same)
                )
                pytest.fail(
                    f"{policy.id}: {scope} column {column!r} differs on {bad.height} row(s):\n{bad.head(5)}"
                )


def _kwargs(scenario: dict[str, Any]) -> dict[str, Any]:
    return {
        "calendar": scenario["calendar"],
        "settings": scenario["settings"],
        "authorisations": scenario["authorisations"],
    }


@pytest.mark.parametrize("policy", CHECKED, ids=[p.id for p in CHECKED])
def test_engine_matches_reference_on_random_frames(policy: m.Policy) -> None:
    @settings(
        max_examples=int(os.environ.get("REFERENCE_EXAMPLES", "30")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(scenario=scenarios(policy))
    def check(scenario: dict[str, Any]) -> None:
        assert_same(policy, scenario)

    check()


def test_reference_decides_the_boundary_share_exactly() -> None:
    """12 of 40 teachers absent is exactly 30%: the >= 30% rule holds, 11 of 40 does not."""
    policy = Registry().get("cps-ctu-2022-01-10").policy
    days = [dt.date(2022, 1, 12), dt.date(2022, 1, 13)]
    frame = pl.DataFrame(
        {
            "unit": ["a", "a", "b", "b"],
            "date": days + days,
            "classroom_teachers": [40, 40, 40, 40],
            "covid_absent_teachers": [12, 12, 11, 12],
            "absences_covered_by_substitutes": [0, 0, 0, 0],
            "enrolled": [500, 500, 500, 500],
            "in_person_students": [500, 500, 500, 500],
            "students_quarantine_isolation": [0, 0, 0, 0],
        }
    )
    frames = {"school": frame}
    out = evaluate_reference(policy, frames)["school"]
    trig = dict(
        zip(
            zip(out["unit"], out["date"], strict=True),
            out["trigger.teacher-absences"],
            strict=True,
        )
    )
    assert trig[("a", days[1])] is True
    assert trig[("b", days[1])] is False
    assert_same(
        policy, {"frames": frames, "calendar": Calendar(), "settings": None, "authorisations": None}
    )

"""The engine in the simulator's loop evaluating only what changed (``LoopEngine`` with
``incremental``) gives the modes and authorisations of the plain path (every unit of every ruled
scope evaluated each day), on every shipped policy with rules, random daily metrics that mostly
keep their values and sometimes change, random calendars, horizons and start days around the
policy's dated parameter values."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schoolmode.engine.grid import Calendar
from schoolmode.policy import model as m
from schoolmode.sim.decide import DISTRICT_UNIT, LoopEngine
from tests.engine.test_reference import (
    FLOAT_HINTS,
    POLICIES,
    anchors,
    metric_value,
    needs,
    numbers_of,
)

FEW = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _series(rng: random.Random, days: int, is_float: bool, bounds: list[Any]) -> np.ndarray:
    """A unit's daily values of one metric: a value kept for a while, now and then a new one,
    and single-day spikes (a count of cases)."""
    out = np.zeros(days, dtype=np.float64 if is_float else np.int64)

    def draw() -> Any:
        value = metric_value(rng, is_float, bounds)
        return 0 if value is None else value

    value = draw()
    change, spike = rng.choice([0.03, 0.1, 0.3]), rng.choice([0.0, 0.05, 0.2])
    for day in range(days):
        if rng.random() < change:
            value = draw()
        out[day] = draw() if rng.random() < spike else value
    return out


def _engines(
    policy: m.Policy, data: st.DataObject, twin: bool = False
) -> tuple[LoopEngine, LoopEngine, dict]:
    """The incremental engine and the plain one (``twin``: the incremental one handing the
    engine frames instead of arrays), and the metrics to record."""
    days = data.draw(st.integers(10, 45), label="days")
    anchor = data.draw(st.sampled_from(anchors(policy)), label="anchor")
    start = anchor - dt.timedelta(days=data.draw(st.integers(0, days), label="before"))
    rng = random.Random(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    units = {
        "district": [DISTRICT_UNIT],
        "school": [f"s{i}" for i in range(data.draw(st.integers(1, 3), label="schools"))],
        "classroom": [f"c{i}" for i in range(data.draw(st.integers(1, 5), label="rooms"))],
    }
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    calendar = data.draw(st.sampled_from(["weekdays", "explicit"]), label="calendar")
    cal = (
        Calendar()
        if calendar == "weekdays"
        else Calendar(school_days=frozenset(d for d in dates if rng.random() < 0.7))
    )
    wanted = needs(policy)
    attributes: dict[str, dict[str, list[str]]] = {
        "school": {"parent": [DISTRICT_UNIT] * len(units["school"])},
        "classroom": {"parent": [rng.choice(units["school"]) for _ in units["classroom"]]},
    }
    for scope, (_, attrs) in wanted.items():
        for attr in attrs - {"parent"}:
            values = [rng.choice(["ES", "MS", "HS"]) for _ in units[scope]]
            attributes.setdefault(scope, {})[attr] = values
    common: dict[str, Any] = {
        "policy": policy,
        "units": units,
        "start": start,
        "days": days,
        "calendar": cal,
        "attributes": attributes,
        "act_on_eligible": data.draw(st.booleans(), label="act"),
    }
    window = data.draw(st.sampled_from([None, None, 0]), label="window")
    horizon = data.draw(st.integers(1, 30), label="horizon")
    changed = LoopEngine(**common, window=window, horizon=horizon)
    plain = (
        LoopEngine(**common, window=window, horizon=horizon, dense=False)
        if twin
        else LoopEngine(**common, window=window, incremental=False)
    )
    bounds = numbers_of(policy)
    metrics = {
        scope: {
            name: np.stack(
                [
                    _series(rng, days, any(h in name for h in FLOAT_HINTS), bounds)
                    for _ in units[scope]
                ]
            )
            for name in sorted(names)
        }
        for scope, (names, _) in wanted.items()
    }
    return changed, plain, metrics


@FEW
@given(data=st.data())
def test_evaluating_only_what_changed_gives_the_modes_of_evaluating_everything(
    data: st.DataObject,
) -> None:
    policy = data.draw(st.sampled_from(POLICIES), label="policy")
    changed, plain, metrics = _engines(policy, data)
    for day in range(changed.days):
        for engine in (changed, plain):
            for scope, table in metrics.items():
                for name, values in table.items():
                    engine.record(scope, name, day, values[:, day])
            engine.decide(day)
    for scope in ("district", "school", "classroom"):
        assert np.array_equal(changed.modes[scope], plain.modes[scope]), scope
    assert sorted(changed.authorisations) == sorted(plain.authorisations)
    assert changed.missing == plain.missing


@FEW
@given(data=st.data())
def test_the_arrays_handed_to_the_engine_give_what_the_frames_give(data: st.DataObject) -> None:
    """``LoopEngine.dense`` (the engine's grids built from the metric arrays, without frames)
    against the frames, on the same evaluations."""
    policy = data.draw(st.sampled_from(POLICIES), label="policy")
    dense, framed, metrics = _engines(policy, data, twin=True)
    assert (dense.dense, framed.dense) == (True, False)
    for day in range(dense.days):
        for engine in (dense, framed):
            for scope, table in metrics.items():
                for name, values in table.items():
                    engine.record(scope, name, day, values[:, day])
            engine.decide(day)
    for scope in ("district", "school", "classroom"):
        assert np.array_equal(dense.modes[scope], framed.modes[scope]), scope
    assert dense.authorisations == framed.authorisations
    assert (dense.missing, dense.evaluations) == (framed.missing, framed.evaluations)
    last = dense.days - 1
    if last > 0 and dense.ruled:
        one, other = dense.posthoc(last), framed.posthoc(last)
        assert all(np.array_equal(one[s], other[s]) for s in dense.ruled)


def test_a_quiet_unit_is_not_evaluated_again_and_a_changed_one_is() -> None:
    """Constant metrics: after the first day, nothing is evaluated until the days decided
    ahead run out; a new value of one unit's metric gets an evaluation of that unit alone (the
    others come along only when their days decided ahead run out within half a horizon)."""
    policy = next(p for p in POLICIES if p.id == "idph-outbreak-2021-10-15")
    units = {"district": [DISTRICT_UNIT], "school": ["s0"], "classroom": ["c0", "c1", "c2"]}
    engine = LoopEngine(
        policy, units, dt.date(2021, 11, 1), 30, Calendar(), horizon=10, incremental=True
    )
    calls: list[dict[str, list[int]]] = []
    frames = engine.dense_frames

    def spy(lo: int, hi: int, scopes: Any = None, rows: Any = None, ahead: int = 0) -> Any:
        calls.append({s: [int(i) for i in r] for s, r in (rows or {}).items()})
        return frames(lo, hi, scopes, rows, ahead)

    engine.dense_frames = spy  # type: ignore[method-assign]
    for day in range(30):
        cases = np.array([1 if day == 12 else 0, 0, 0])
        engine.record("classroom", "core_group_cases", day, cases)
        engine.record("classroom", "qualifying_cases", day, cases)
        engine.record("classroom", "group_size", day, np.array([20, 20, 20]))
        engine.decide(day)
    # day 0 (every unit, decided through day 10), day 10 (ran out; through day 20), day 12
    # (c0 changed; through day 22), day 20 (c1 and c2 ran out, c0 within half a horizon)
    everyone = {"classroom": [0, 1, 2]}
    assert calls == [everyone, everyone, {"classroom": [0]}, everyone]

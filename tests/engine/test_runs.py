"""Runs of sustained and trend conditions (``engine.runs``): the current run's length and the
day that broke the run before, against a brute-force count over random daily values and
calendars; the engine's own ``sustained`` agrees with the run length; the technical trace
states the run in English and Spanish."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from schoolmode.engine import runs
from schoolmode.engine.grid import Axis
from schoolmode.engine.nodes import CondValue, sustained
from schoolmode.policy import model as m

START = dt.date(2022, 1, 3)


def _brute(
    value: list[bool], known: list[bool], school: list[bool], d: int, unit: str
) -> tuple[int, int | None, int | None]:
    """(length, index of the breaking day, index of the unknown day ending the run)."""
    days = [i for i in range(d, -1, -1) if unit == "calendar_days" or school[i]]
    length = 0
    for i in days:
        if not known[i]:
            return length, None, i
        if not value[i]:
            return length, i, None
        length += 1
    return length, None, None


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=40),
    unit=st.sampled_from(["calendar_days", "school_days"]),
    pick=st.integers(min_value=0, max_value=39),
)
def test_the_run_is_the_brute_force_count(
    data: list[tuple[bool, bool, bool]], unit: str, pick: int
) -> None:
    value = [v for v, _, _ in data]
    known = [k or v for v, k, _ in data]  # a met day is known
    school = [s for _, _, s in data]
    d = pick % len(data)
    axis = Axis(START, len(data), np.array(school))
    daily = CondValue(np.array([value]), np.array([known]))
    found = runs.run_at(daily, 0, d, axis, unit)
    length, broke, unknown = _brute(value, known, school, d, unit)
    assert found.length == length
    assert found.broke_on == (None if broke is None else axis.date(broke))
    assert found.unknown_on == (None if unknown is None else axis.date(unknown))
    # the engine's sustained condition holds exactly when the run reaches its days
    for need in (1, 2, 3):
        held = sustained(daily, need, unit, _Grid(axis))
        if unit == "calendar_days" or school[d]:
            assert bool(held.value[0, d]) == (length >= need)


class _Grid:
    """The part of a grid ``sustained`` reads."""

    def __init__(self, axis: Axis) -> None:
        self.axis = axis
        self.shape = (1, axis.days)


def test_met_days_counts_the_window() -> None:
    daily = CondValue(
        np.array([[True, False, True, True, False, True, True]]),
        np.array([[True, True, True, True, False, True, True]]),
    )
    assert runs.met_days(daily, 0, 6, 7) == (5, 6)
    assert runs.met_days(daily, 0, 2, 7) == (2, 3)


def test_only_sustained_and_trend_conditions_have_runs() -> None:
    node = m.ConstantCond.model_validate({"constant": True})
    assert runs.daily_of(node, {}) is None


def _case_trace(case_id: str, day: dt.date) -> object:
    from schoolmode.cases.runner import collect, evaluate_case
    from schoolmode.engine.trace import trace
    from schoolmode.policy.cases import EngineCase
    from schoolmode.policy.loader import Registry

    registry = Registry()
    run = next(r for r in collect(registry) if r.case.id == case_id and r.reading is None)
    assert isinstance(run.case, EngineCase)
    evaluation = evaluate_case(run.case, registry.get(run.policy_id).policy, run.settings)
    return trace(evaluation, "school", "X", day)


def test_the_trace_and_its_technical_words_state_the_run() -> None:
    from schoolmode.engine.explain import technical_explanation
    from schoolmode.engine.trace import Trace
    from schoolmode.i18n import language

    found = _case_trace("cps22-teacher-absence-run-broken", dt.date(2022, 1, 21))
    assert isinstance(found, Trace)
    nodes = [n for r in found.rules for n in _walk(r.condition) if n.kind == "sustained"]
    absent = next(n for n in nodes if n.run is not None and n.broke_value is not None)
    assert (absent.run, absent.broke_on) == (2, "2022-01-19")
    assert absent.broke_value == "27.5%, 11 of 40"
    english = technical_explanation(found)
    assert (
        "run so far: 2 consecutive school days; broken on Wednesday 19 January 2022 "
        "(27.5%, 11 of 40)"
    ) in english
    spanish = technical_explanation(found, lang=language("es"))
    assert "racha actual: 2 días lectivos consecutivos; interrumpida el" in spanish
    # the trace's JSON carries it too (stored with each decision)
    assert '"run": 2' in found.to_json()


def _walk(node: object) -> list:  # type: ignore[type-arg]
    if node is None:
        return []
    out = [node]
    for child in getattr(node, "children", []):
        out += _walk(child)
    return out

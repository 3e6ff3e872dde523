"""The traces of every unit-day the shipped worked cases name (:func:`expected_unit_days`),
for the tests that read explanations of all of them."""

from __future__ import annotations

from collections.abc import Iterator

from schoolmode.cases.runner import collect, evaluate_case, expected_unit_days
from schoolmode.engine.trace import Trace, trace
from schoolmode.policy.cases import EngineCase
from schoolmode.policy.loader import Registry


def shipped_traces() -> Iterator[Trace]:
    registry = Registry()
    for run in collect(registry):
        if not isinstance(run.case, EngineCase):
            continue
        evaluation = evaluate_case(run.case, registry.get(run.policy_id).policy, run.settings)
        for scope, unit, day in expected_unit_days(run):
            yield trace(evaluation, scope, unit, day)

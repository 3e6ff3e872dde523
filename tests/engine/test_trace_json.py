"""A trace's JSON and dict forms equal ``dataclasses.asdict``'s, on every unit-day of every
shipped worked case (the decision store keeps ``to_json``; the CLI prints ``to_dict``)."""

from __future__ import annotations

import json
from dataclasses import asdict

from schoolmode.cases.runner import collect, evaluate_case
from schoolmode.engine.trace import trace
from schoolmode.policy.cases import EngineCase
from schoolmode.policy.loader import Registry


def test_trace_forms_equal_asdict(registry: Registry) -> None:
    checked = 0
    for run in collect(registry):
        if not isinstance(run.case, EngineCase):
            continue
        evaluation = evaluate_case(run.case, registry.get(run.policy_id).policy, run.settings)
        for scope in evaluation.scopes:
            frame = evaluation.frame(scope, only_present=False)
            for unit, day in frame.select("unit", "date").gather_every(7).iter_rows():
                t = trace(evaluation, scope, unit, day)
                assert t.to_dict() == asdict(t)
                assert t.to_json() == json.dumps(asdict(t), default=str)
                checked += 1
    assert checked > 500

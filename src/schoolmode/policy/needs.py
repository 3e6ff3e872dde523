"""What a policy reads: the metrics each rule needs, by scope.

Used by the backtest (to report rules it could not evaluate), the daily decision run (to load
only what the policy reads), the synthetic district and the simulator.
"""

from __future__ import annotations

from pydantic import BaseModel

from schoolmode.policy import model as m
from schoolmode.policy.walk import children


def metrics_needed(policy: m.Policy) -> dict[str, dict[str, set[str]]]:
    """rule id -> scope -> metric names it reads."""
    out: dict[str, dict[str, set[str]]] = {}
    for rule in policy.rules:
        needs: dict[str, set[str]] = {}
        _collect(rule, rule.scope.value, needs)
        out[rule.id] = needs
    return out


def _collect(node: BaseModel, scope: str, needs: dict[str, set[str]]) -> None:
    """Metric names read under ``node``; a share_of_units reads its condition in the child scope."""
    if isinstance(node, m.MetricOp):
        needs.setdefault(scope, set()).add(node.metric)
    if isinstance(node, m.ShareOfUnitsSpec):
        _collect(node.condition, node.scope.value, needs)
        return
    for child in children(node):
        _collect(child, scope, needs)


def attributes_needed(policy: m.Policy) -> dict[str, set[str]]:
    """scope -> the unit attributes ``policy`` reads there: those its rules test (``attribute``)
    and ``parent`` in a scope whose units a ``share_of_units`` counts per parent."""
    out: dict[str, set[str]] = {}
    for rule in policy.rules:
        _attributes(rule, rule.scope.value, out)
    return out


def _attributes(node: BaseModel, scope: str, out: dict[str, set[str]]) -> None:
    if isinstance(node, m.AttributeSpec):
        out.setdefault(scope, set()).add(node.name)
    if isinstance(node, m.ShareOfUnitsSpec):
        out.setdefault(node.scope.value, set()).add("parent")
        _attributes(node.condition, node.scope.value, out)
        return
    for child in children(node):
        _attributes(child, scope, out)

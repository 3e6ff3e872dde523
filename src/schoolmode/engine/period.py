"""One policy over a period of history: the engine's table evaluation with the backtest's
conventions (a counterfactual term, the rules whose metrics are missing, results from the
period's first day). The backtest runs it per policy; the synthetic surge week uses it for its
decisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from schoolmode.engine.grid import Calendar
from schoolmode.engine.settings import Settings
from schoolmode.engine.table import evaluate_table
from schoolmode.policy import model as m
from schoolmode.policy.needs import metrics_needed


@dataclass
class PolicyRun:
    policy: m.Policy
    results: dict[str, pl.DataFrame]  # scope -> unit, date, mode, status, rule, trigger.*, ...
    not_evaluated: list[str] = field(default_factory=list)  # "rule id: needs scope.metric"


def counterfactual(policy: m.Policy, start: dt.date) -> m.Policy:
    """The policy applied over the whole backtest, whatever its own term: the term opens on
    ``start`` and each parameter's first value applies from ``start`` too (later dated
    changes keep their dates)."""
    parameters = {}
    for name, param in policy.parameters.items():
        first = param.values[0]
        if first.from_ > start:
            backdated = first.model_copy(update={"from_": start})
            parameters[name] = param.model_copy(update={"values": [backdated, *param.values[1:]]})
        else:
            parameters[name] = param
    return policy.model_copy(
        update={"term": m.Term.model_validate({"from": start}), "parameters": parameters}
    )


def run_over_period(
    policy: m.Policy,
    frames: Mapping[str, pl.DataFrame],
    start: dt.date,
    *,
    calendar: Calendar | None = None,
    settings: Settings | None = None,
    apply_over_whole_period: bool = False,
) -> PolicyRun:
    """``policy`` on ``frames`` (already cut at the period's last day) from ``start``: the
    modes per scope, and the rules it could not evaluate for want of a metric. Only within
    the policy's term unless ``apply_over_whole_period`` (a counterfactual, asked for)."""
    used = counterfactual(policy, start) if apply_over_whole_period else policy
    scopes = {r.scope.value for r in policy.rules}
    needs = metrics_needed(policy)
    for need in needs.values():
        scopes |= set(need)
    given = {s: f for s, f in frames.items() if s in scopes}
    missing = [
        f"{rule_id}: needs {scope}.{metric}"
        for rule_id, need in needs.items()
        for scope, names in need.items()
        for metric in sorted(names)
        if scope not in given or metric not in given[scope].columns
    ]
    results = evaluate_table(used, given, calendar=calendar, settings=settings) if given else {}
    results = {s: r.filter(pl.col("date") >= start) for s, r in results.items()}
    return PolicyRun(policy, results, missing)

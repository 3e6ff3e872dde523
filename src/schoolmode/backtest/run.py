"""Run several policies over the same history through the same engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from schoolmode.engine.evaluate import Settings
from schoolmode.engine.grid import Calendar
from schoolmode.engine.table import evaluate_table
from schoolmode.policy import model as m
from schoolmode.policy.needs import metrics_needed


@dataclass
class PolicyRun:
    policy: m.Policy
    results: dict[str, pl.DataFrame]  # scope -> unit, date, mode, status, rule, trigger.*, ...
    not_evaluated: list[str] = field(default_factory=list)  # "rule id: needs scope.metric"


@dataclass
class Backtest:
    start: dt.date
    end: dt.date
    runs: list[PolicyRun]
    counterfactual: bool
    inputs: dict[str, pl.DataFrame]


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


def run_backtest(
    policies: list[m.Policy],
    inputs: Mapping[str, pl.DataFrame],
    start: dt.date,
    end: dt.date,
    *,
    calendar: Calendar | None = None,
    settings: Mapping[str, Settings] | None = None,
    apply_over_whole_period: bool = True,
) -> Backtest:
    runs: list[PolicyRun] = []
    frames = {scope: f.filter(pl.col("date") <= end) for scope, f in inputs.items()}
    for policy in policies:
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
        results = (
            evaluate_table(used, given, calendar=calendar, settings=(settings or {}).get(policy.id))
            if given
            else {}
        )
        results = {s: r.filter(pl.col("date") >= start) for s, r in results.items()}
        runs.append(PolicyRun(policy, results, missing))
    return Backtest(start, end, runs, apply_over_whole_period, dict(frames))

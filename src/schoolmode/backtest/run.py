"""Run several policies over the same history through the same engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from schoolmode.engine.grid import Calendar
from schoolmode.engine.period import PolicyRun, run_over_period
from schoolmode.engine.settings import Settings
from schoolmode.policy import model as m


@dataclass
class Backtest:
    start: dt.date
    end: dt.date
    runs: list[PolicyRun]
    counterfactual: bool
    inputs: dict[str, pl.DataFrame]
    sources: tuple[str, ...] = ()
    """The import sources of the store the inputs were read from (``synthetic-district``,
    ``cdph-daily-testing`` ...), when known: the report says where its figures come from."""


def run_backtest(
    policies: list[m.Policy],
    inputs: Mapping[str, pl.DataFrame],
    start: dt.date,
    end: dt.date,
    *,
    calendar: Calendar | None = None,
    settings: Mapping[str, Settings] | None = None,
    apply_over_whole_period: bool = False,
) -> Backtest:
    frames = {scope: f.filter(pl.col("date") <= end) for scope, f in inputs.items()}
    runs = [
        run_over_period(
            policy,
            frames,
            start,
            calendar=calendar,
            settings=(settings or {}).get(policy.id),
            apply_over_whole_period=apply_over_whole_period,
        )
        for policy in policies
    ]
    return Backtest(start, end, runs, apply_over_whole_period, dict(frames))

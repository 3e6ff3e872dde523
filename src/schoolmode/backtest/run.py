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
    own_inputs: Mapping[str, Mapping[str, pl.DataFrame]] | None = None,
) -> Backtest:
    """Each policy over ``inputs`` (``own_inputs``: by policy id, the frames a policy reads
    instead, e.g. its event-derived metrics counted by its own ``counts:``)."""
    frames = {scope: f.filter(pl.col("date") <= end) for scope, f in inputs.items()}

    def frames_of(policy: m.Policy) -> dict[str, pl.DataFrame]:
        own = (own_inputs or {}).get(policy.id)
        if own is None:
            return frames
        return {scope: f.filter(pl.col("date") <= end) for scope, f in own.items()}

    runs = [
        run_over_period(
            policy,
            frames_of(policy),
            start,
            calendar=calendar,
            settings=(settings or {}).get(policy.id),
            apply_over_whole_period=apply_over_whole_period,
        )
        for policy in policies
    ]
    return Backtest(start, end, runs, apply_over_whole_period, dict(frames))

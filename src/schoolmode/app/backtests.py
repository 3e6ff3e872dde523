"""Use cases of the backtest: replay stored history through several policies and write the
report; sweep one parameter of one policy over values (serially or on Dask)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from schoolmode.app.context import Context
from schoolmode.app.errors import UseCaseError, as_use_case_errors
from schoolmode.app.progress import Stage
from schoolmode.backtest.report import write_report
from schoolmode.backtest.run import run_backtest
from schoolmode.backtest.summary import headline
from schoolmode.backtest.sweep import IN_FORCE, OUTCOMES, run_sweep, write_sweep_report
from schoolmode.engine.settings import Settings, Value, kind_of, parse_value, sweep_points
from schoolmode.metrics.coverage import records_span, without_records_outside
from schoolmode.metrics.frames import district_frame, schools, unit_frames
from schoolmode.parallel import dask_client
from schoolmode.policy import model as m
from schoolmode.policy.counting import DEFAULTS, CountingRules, counting_rules
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.store.service import last_imports


def _policies(ctx: Context, ids: list[str], option: str) -> list[m.Policy]:
    chosen = [ctx.registry.get(pid.strip()).policy for pid in ids if pid.strip()]
    if not chosen and option:
        raise UseCaseError(f"{option} names no policy")
    return chosen


def _check_period(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise UseCaseError(f"--to {end} is before --from {start}")


def _history(
    engine: Engine,
    start: dt.date,
    end: dt.date,
    school_year: str | None,
    rules: CountingRules = DEFAULTS,
) -> dict[str, pl.DataFrame]:
    district = district_frame(engine, start, end)
    units = unit_frames(engine, district, schools(engine, school_year), rules=rules)
    frames = {"district": district, **units}
    # as a decision: the school-record metrics are blank (no_data) outside the records' days
    span = records_span(engine)
    return {scope: without_records_outside(frame, span) for scope, frame in frames.items()}


def _own_histories(
    engine: Engine,
    policies: list[m.Policy],
    start: dt.date,
    end: dt.date,
    school_year: str | None,
) -> dict[str, dict[str, pl.DataFrame]]:
    """The frames of each policy that counts events otherwise than the defaults (its
    ``counts:``), by policy id: its event-derived metrics counted by its own rules (one read
    per distinct set of rules)."""
    by_rules: dict[CountingRules, dict[str, pl.DataFrame]] = {}
    out = {}
    for policy in policies:
        rules = counting_rules(policy)
        if rules == DEFAULTS:
            continue
        if rules not in by_rules:
            by_rules[rules] = _history(engine, start, end, school_year, rules)
        out[policy.id] = by_rules[rules]
    return out


def _own_point_histories(
    engine: Engine, policies: list[m.Policy], req: SweepRequest, base: Settings | None
) -> dict[tuple[str, str], dict[str, pl.DataFrame]]:
    """The frames of each sweep point whose policy counts events otherwise than the defaults
    under the point's readings (e.g. a sweep of a reading of what counts), by (policy id, value
    as written); one read per distinct set of rules."""
    by_id = {p.id: p for p in policies}
    by_rules: dict[CountingRules, dict[str, pl.DataFrame]] = {}
    points = [
        (p.policy_id, p.label, p.settings)
        for p in sweep_points(policies, req.param, req.values, base)
    ]
    points += [(p.id, IN_FORCE, Settings()) for p in policies]  # each policy as in force
    out = {}
    for policy_id, label, settings in points:
        rules = counting_rules(by_id[policy_id], settings.interpretations)
        if rules == DEFAULTS:
            continue
        if rules not in by_rules:
            by_rules[rules] = _history(engine, req.start, req.end, req.school_year, rules)
        out[(policy_id, label)] = by_rules[rules]
    return out


class BacktestRequest(BaseModel):
    """Replay ``start``..``end`` through ``policy_ids`` (each within its own term, or over the
    whole period with ``counterfactual``); write the report under ``out``."""

    model_config = ConfigDict(frozen=True)

    policy_ids: list[str]
    start: dt.date
    end: dt.date
    out: Path
    counterfactual: bool = False
    school_year: str | None = None
    """The school profiles to use (default: the earliest stored)."""


class BacktestResult(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    headline: pl.DataFrame
    """One row per policy: its headline figures."""
    files: dict[str, Path]
    """The written files by name (``report.md``, ``report.html``, plots, data)."""


def backtest(ctx: Context, req: BacktestRequest, stage: Stage | None = None) -> BacktestResult:
    """Replay stored history day by day through each policy and write the report."""
    tell = stage or (lambda _: None)
    with as_use_case_errors(LookupError, ValueError):
        _check_period(req.start, req.end)
        chosen = _policies(ctx, req.policy_ids, "")
        tell("reading metrics from the store")
        history = _history(ctx.engine, req.start, req.end, req.school_year)
        own = _own_histories(ctx.engine, chosen, req.start, req.end, req.school_year)
        tell(f"replaying {len(chosen)} policies")
        result = run_backtest(
            chosen,
            history,
            req.start,
            req.end,
            apply_over_whole_period=req.counterfactual,
            own_inputs=own,
        )
        result.sources = tuple(row["source"] for row in last_imports(ctx.engine))
        tell("writing the report")
        files = write_report(result, req.out)
    return BacktestResult(headline=headline(result), files=files)


class SweepRequest(BaseModel):
    """Backtest once per value of ``param`` (a parameter or interpretation shared by
    ``policy_ids``); serially (``workers`` 0, no ``scheduler``) or on Dask."""

    model_config = ConfigDict(frozen=True)

    policy_ids: list[str]
    param: str
    values: list[str]
    start: dt.date
    end: dt.date
    out: Path
    scheduler: str | None = None
    """Address of a running Dask scheduler (default: start a LocalCluster)."""
    workers: int = 2
    counterfactual: bool = False
    school_year: str | None = None
    fixed: list[str] = Field(default_factory=list)
    """Other parameters or readings (``name=value``) set in every backtest; then each policy
    as in force comes first."""


class SweepResult(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    table: pl.DataFrame
    """One row per policy and value: the outcome columns (``outcomes``) and more."""
    outcomes: list[str]
    files: dict[str, Path]
    """``sweep.md``, ``sweep.csv``, ``sweep.png``."""


Started = Callable[[int, str], None]
"""Told, before the backtests start, how many there are and where they run."""


def fixed_settings(policies: list[m.Policy], fixed: list[str], param: str) -> Settings | None:
    """The ``name=value`` settings of a sweep's ``fixed`` as engine settings (None: none);
    each must be a parameter or reading of every policy, and not the swept one."""
    if not fixed:
        return None
    parameters: dict[str, Value] = {}
    readings: dict[str, Decimal | bool | str] = {}
    for text in fixed:
        name, _, raw = text.partition("=")
        name = name.strip()
        if name == param:
            raise SchoolmodeError(f"fixed: {name} is the parameter swept; set it once")
        for policy in policies:
            value = parse_value(policy, name, raw)
            if kind_of(policy, name) == "parameter":
                parameters[name] = value
            elif value is not None and not isinstance(value, list):
                readings[name] = value
    return Settings(interpretations=readings, parameters=parameters)


def sweep(ctx: Context, req: SweepRequest, started: Started | None = None) -> SweepResult:
    """Backtest once per value and write a table and a plot of the outcome."""
    with as_use_case_errors(LookupError, ValueError, OSError):
        _check_period(req.start, req.end)
        chosen = _policies(ctx, req.policy_ids, "--policy")
        base = fixed_settings(chosen, req.fixed, req.param)
        sweep_points(chosen, req.param, req.values)  # names and values, before reading the store
        history = _history(ctx.engine, req.start, req.end, req.school_year)
        own = _own_point_histories(ctx.engine, chosen, req, base)
        serial = req.workers == 0 and not req.scheduler
        where = req.scheduler or ("serial" if serial else f"LocalCluster of {req.workers} workers")
        if started is not None:
            started(len(chosen) * (len(req.values) + (1 if req.fixed else 0)), where)
        args = (chosen, req.param, req.values, history, req.start, req.end)
        whole = req.counterfactual
        if serial:
            table = run_sweep(*args, base=base, apply_over_whole_period=whole, own_inputs=own)
        else:
            with dask_client(req.workers, req.scheduler) as client:
                table = run_sweep(
                    *args, client=client, base=base, apply_over_whole_period=whole, own_inputs=own
                )
        files = write_sweep_report(
            table, req.out, start=req.start, end=req.end, counterfactual=whole
        )
    return SweepResult(table=table, outcomes=list(OUTCOMES), files=files)

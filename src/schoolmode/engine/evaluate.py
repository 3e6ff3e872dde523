"""The policy engine: metric frames + a policy -> modes per unit and day, and a trace.

``evaluate`` is pure: no database, no clock, no network. The daily decision run, the
backtest and the simulator all call it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from schoolmode.engine import nodes
from schoolmode.engine.grid import (
    DATE,
    DERIVED_SUFFIX,
    UNIT,
    Axis,
    Calendar,
    DenseFrame,
    Grid,
    build_grid,
    date_bounds,
    dense_grid,
)
from schoolmode.engine.nodes import Context, EvaluationError, Recorded
from schoolmode.engine.rational import Bool, Int
from schoolmode.engine.settings import Settings, Value
from schoolmode.engine.states import NEVER, Spells, advance, run_spells
from schoolmode.policy import model as m
from schoolmode.policy.durations import duration_in_days
from schoolmode.policy.needs import metrics_needed
from schoolmode.policy.walk import walk

ENGINE_VERSION = "1"
NOT_IN_FORCE = -1
NO_DATA = -2
DECLARED_SCOPES = (m.Scope.grade.value,)
"""Scopes whose units only a population declares (the simulator's grades): frames without one
give a rule of that scope no units (an empty result), never an error."""
"""No rule applied and a rule had no data: a level rule with recommendations had no level, or
a trigger rule's inputs were outside their series' days (:func:`series_days`) on the day its
trigger decides this one, or a level rule's value fell in no band of its table (its level is
``unassigned``). Never the default mode."""
UNASSIGNED_LEVEL = "unassigned"
"""The level of a value its band table leaves unassigned (``level.<rule>`` column, cases)."""


@dataclass
class Segment:
    """Days over which every parameter a rule uses keeps one value."""

    mask: Bool  # (days,)
    values: dict[str, Value]
    inactive: str | None  # the parameter without a value, if the rule does not apply
    record: dict[int, Recorded] | None = None


@dataclass
class RuleResult:
    rule: m.Rule
    segments: list[Segment]
    trigger: Bool | None = None  # trigger rules
    known: Bool | None = None  # trigger rules: whether the trigger's inputs were known
    blind: Bool | None = None  # trigger rules: days whose mode rests on a day without inputs
    spells: Spells | None = None
    level: Int | None = None  # classify rules
    recommended: Int | None = None  # mode index per unit-day (classify rules), -1 none


@dataclass
class ScopeResult:
    scope: str
    grid: Grid
    mode: Int  # index into policy.modes; NOT_IN_FORCE outside the term, NO_DATA when a level is unknown
    rule: Int  # index into ``rules`` of the responsible rule, -1 none
    eligible: Int  # most severe mode the unit is eligible for (eligible rules), -1 none
    rules: list[RuleResult]


@dataclass
class Evaluation:
    policy: m.Policy
    axis: Axis
    settings: Settings
    interpretations: dict[str, Decimal | bool | str]
    scopes: dict[str, ScopeResult]
    missing_metrics: set[tuple[str, str]] = field(default_factory=set)
    own_term: m.Term | None = None
    """The policy's own term when it was applied outside it on request (a counterfactual:
    ``policy`` is then the copy in force over the whole evaluation, ``engine/period.py``)."""

    @property
    def term(self) -> m.Term:
        """The policy's own term (not the counterfactual one)."""
        return self.own_term or self.policy.term

    def frame(
        self,
        scope: str,
        *,
        only_present: bool = True,
        days: tuple[dt.date, dt.date] | None = None,
    ) -> pl.DataFrame:
        """One row per unit and day: mode, status, responsible rule, spell dates.

        ``mode``, ``status`` and ``rule`` are polars Enums; by default only the unit-days that
        had a row in the input frame are returned. ``days``: only the days from the first to
        the last given (within the evaluated days), the same rows as filtering the whole frame.
        """
        result = self.scopes[scope]
        grid = result.grid
        u, full_days = grid.shape
        first, last = 0, full_days - 1
        if days is not None:
            first = max(first, self.axis.index(days[0]))
            last = min(last, self.axis.index(days[1]))
        d = max(last - first + 1, 0)
        window = slice(first, first + d)
        keep = grid.present[:, window].ravel() if only_present else None

        def cells(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
            flat = np.broadcast_to(array, (u, full_days))[:, window].ravel()
            return flat[keep] if keep is not None else flat

        modes = [mm.id for mm in self.policy.modes]
        mode_names = [*modes, "not_in_force", "no_data"]
        flat_mode = cells(result.mode)
        mode_idx = np.where(
            flat_mode >= 0, flat_mode, np.where(flat_mode == NO_DATA, len(modes) + 1, len(modes))
        )
        eligible = cells(result.eligible)
        status_names = [*mode_names, *(f"eligible_for_{m_}" for m_ in modes)]
        status_idx = np.where(
            (eligible > flat_mode) & (eligible >= 0), len(mode_names) + eligible, mode_idx
        )
        rule_ids = [r.rule.id for r in result.rules]
        responsible = cells(result.rule)
        start_idx, end_idx = _spell_columns(result)
        unit_idx = cells(np.broadcast_to(np.arange(u, dtype=np.int64)[:, None], (u, full_days)))
        day_idx = cells(
            np.broadcast_to(np.arange(full_days, dtype=np.int32)[None, :], (u, full_days))
        )
        epoch = (
            self.axis.start - dt.date(1970, 1, 1)
        ).days  # polars Dates are int32 days since 1970
        spell_start = cells(start_idx)
        spell_end = cells(end_idx)
        columns: dict[str, pl.Series] = {
            UNIT: pl.Series(UNIT, grid.units, dtype=pl.String).gather(unit_idx),
            DATE: _dates(DATE, day_idx, epoch),
            "mode": _enum("mode", mode_names, mode_idx),
            "status": _enum("status", status_names, status_idx),
            "rule": _enum(
                "rule", rule_ids or ["-"], np.where(responsible >= 0, responsible, 0)
            ).set(pl.Series(responsible < 0), None),
        }
        for rr in result.rules:
            if rr.trigger is not None:
                columns[f"trigger.{rr.rule.id}"] = pl.Series(
                    f"trigger.{rr.rule.id}", cells(rr.trigger)
                )
            if rr.level is not None and rr.rule.levels:
                lv = cells(rr.level)
                names = [*rr.rule.levels, UNASSIGNED_LEVEL]
                series = _enum(
                    f"level.{rr.rule.id}",
                    names,
                    np.where(lv >= 0, lv, np.where(lv == nodes.UNASSIGNED, len(names) - 1, 0)),
                )
                columns[f"level.{rr.rule.id}"] = series.cast(pl.String).set(
                    pl.Series(lv == -1), None
                )
        columns["spell_start"] = _dates("spell_start", spell_start, epoch, spell_start >= 0)
        ends = (spell_end >= 0) & (spell_end < NEVER)
        columns["earliest_return"] = _dates("earliest_return", spell_end, epoch, ends)
        return pl.DataFrame(columns)


def _dates(
    name: str, offsets: npt.NDArray[Any], epoch: int, valid: Bool | None = None
) -> pl.Series:
    days = pl.Series(name, offsets.astype(np.int32) + np.int32(epoch))
    if valid is not None and not valid.all():
        days = days.set(pl.Series(~valid), None)
    return days.cast(pl.Date)


def _enum(name: str, categories: list[str], index: Int) -> pl.Series:
    """An Enum column from category indices, without building Python strings per row."""
    return pl.Series(name, categories, dtype=pl.Enum(categories)).gather(index.astype(np.int64))


def _spell_columns(result: ScopeResult) -> tuple[Int, Int]:
    shape = result.grid.shape
    start = np.full(shape, -1, dtype=np.int32)
    end = np.full(shape, -1, dtype=np.int32)
    for index, rr in enumerate(result.rules):
        if rr.spells is None:
            continue
        mine = (result.rule == index) & rr.spells.in_effect
        start[mine] = rr.spells.started[mine]
        end[mine] = rr.spells.earliest_end[mine]
    return start, end


def resolve_interpretations(
    policy: m.Policy, settings: Settings
) -> dict[str, Decimal | bool | str]:
    chosen: dict[str, Decimal | bool | str] = {
        k: v.default for k, v in policy.interpretations.items()
    }
    for name, value in settings.interpretations.items():
        spec = policy.interpretations.get(name)
        if spec is None:
            raise EvaluationError(
                f"policy {policy.id!r} has no interpretation parameter {name!r} "
                f"(it has: {', '.join(sorted(policy.interpretations)) or 'none'})"
            )
        matches = [c for c in spec.choices if str(c) == str(value)]
        if not matches:
            raise EvaluationError(
                f"interpretation {name!r} of policy {policy.id!r} cannot be {value!r}; "
                f"choose one of {', '.join(map(str, spec.choices))}"
            )
        chosen[name] = matches[0]
    return chosen


def value_on(param: m.Parameter, day: dt.date) -> m.DatedValue | None:
    current: m.DatedValue | None = None
    for candidate in param.values:
        if candidate.from_ <= day:
            current = candidate
    return current


_PARAMS_OF: dict[int, tuple[m.Rule, list[str]]] = {}


def _params_of(rule: m.Rule) -> list[str]:
    """The parameters ``rule`` reads, sorted; kept per rule object (a rule evaluated every day
    of a simulation is walked once)."""
    hit = _PARAMS_OF.get(id(rule))
    if hit is not None and hit[0] is rule:
        return hit[1]
    names = sorted({n.param for n in walk(rule) if isinstance(n, m.ParamRef)})
    if len(_PARAMS_OF) >= 4096:
        _PARAMS_OF.clear()
    _PARAMS_OF[id(rule)] = (rule, names)
    return names


def segments_for(rule: m.Rule, policy: m.Policy, axis: Axis, settings: Settings) -> list[Segment]:
    names = _params_of(rule)
    for name in settings.parameters:
        if name not in policy.parameters:
            raise EvaluationError(f"policy {policy.id!r} has no parameter {name!r} to override")
    cuts = {0, axis.days}
    for name in names:
        if name in settings.parameters:
            continue
        for dv in policy.parameters[name].values:
            i = axis.index(dv.from_)
            if 0 < i < axis.days:
                cuts.add(i)
    bounds = sorted(cuts)
    out: list[Segment] = []
    for a, b in itertools.pairwise(bounds):
        day = axis.date(a)
        values: dict[str, Value] = {}
        inactive = None
        for name in names:
            if name in settings.parameters:
                values[name] = settings.parameters[name]
            else:
                in_force = value_on(policy.parameters[name], day)
                values[name] = in_force.value if in_force is not None else None
            if values[name] is None and inactive is None:
                inactive = name
        mask = np.zeros(axis.days, dtype=bool)
        mask[a:b] = True
        out.append(Segment(mask, values, inactive))
    return out


def _term_mask(policy: m.Policy, axis: Axis) -> Bool:
    idx = np.arange(axis.days)
    first = axis.index(policy.term.from_)
    last = axis.index(policy.term.to) if policy.term.to is not None else axis.days
    return (idx >= first) & (idx <= last)


def evaluate(
    policy: m.Policy,
    frames: Mapping[str, pl.DataFrame],
    *,
    calendar: Calendar | None = None,
    settings: Settings | None = None,
    authorisations: pl.DataFrame | None = None,
    keep: bool = False,
    span: tuple[dt.date, dt.date] | None = None,
    strict: bool = False,
    series: SeriesDays | None = None,
    dense: Mapping[str, DenseFrame] | None = None,
) -> Evaluation:
    """Evaluate ``policy`` on metric frames keyed by scope ('classroom', 'school', 'district').

    ``series``: each scope's metrics' series days (:func:`series_days`), inferred from the
    frames when not given (a caller evaluating part of a frame passes those of the whole).

    ``authorisations`` (columns unit, date, rule) records the days a named body decided to
    act on an *eligible* rule. ``keep`` retains every node's values for traces. A metric a
    rule needs but the frames lack makes that rule's conditions unknown (never met) and is
    listed in ``missing_metrics``; with ``strict`` it is an error instead.
    """
    settings = settings or Settings()
    calendar = calendar or Calendar()
    interps = resolve_interpretations(policy, settings)
    frames = {str(k): v for k, v in frames.items()}
    dense = {str(k): v for k, v in (dense or {}).items()}
    unknown = (set(frames) | set(dense)) - {s.value for s in m.Scope}
    if unknown:
        raise EvaluationError(
            f"unknown scope(s) {sorted(unknown)}; use classroom, grade, school or district"
        )
    if dense and (span is None or set(dense) & set(frames)):
        raise EvaluationError("dense scopes need a span and must not also be given as frames")
    first, last = span if span is not None else date_bounds(frames)
    frames.update(_no_units(policy, {**frames, **dense}))
    axis = Axis.spanning(first, last, calendar)
    grids = {scope: build_grid(scope, frame, axis) for scope, frame in frames.items()}
    grids.update({scope: dense_grid(scope, d, axis) for scope, d in dense.items()})
    in_term = _term_mask(policy, axis)
    scopes: dict[str, ScopeResult] = {}
    missing: set[tuple[str, str]] = set()
    series = series if series is not None else {**series_days(frames), **_dense_days(dense)}
    for scope in m.Scope:
        rules = [r for r in policy.rules if r.scope == scope]
        if scope.value not in grids:
            continue  # a scope without a frame gets no result (a district rule may still read it)
        results = [
            _evaluate_rule(
                rule,
                policy,
                grids,
                axis,
                settings,
                interps,
                in_term,
                authorisations,
                keep,
                missing,
                strict,
                series.get(scope.value, {}),
            )
            for rule in rules
        ]
        scopes[scope.value] = _combine(policy, grids[scope.value], results, in_term)
    ruled = {r.scope.value for r in policy.rules}
    if ruled and not ruled & set(grids):
        raise EvaluationError(
            f"policy {policy.id!r} has rules for {', '.join(sorted(ruled))} but the frames given "
            f"are for {', '.join(sorted(grids)) or 'nothing'}"
        )
    return Evaluation(policy, axis, settings, interps, scopes, missing)


def _dense_days(
    dense: Mapping[str, DenseFrame],
) -> dict[str, dict[str, tuple[dt.date, dt.date] | None]]:
    """``series_days`` of the frames ``dense`` stands for (every row has every metric)."""
    out: dict[str, dict[str, tuple[dt.date, dt.date] | None]] = {}
    for scope, d in dense.items():
        last = d.first + dt.timedelta(days=d.days - 1)
        rows = bool(d.units) and d.days > 0
        out[scope] = dict.fromkeys(d.metrics, (d.first, last) if rows else None)
    return out


def _no_units(policy: m.Policy, frames: Mapping[str, object]) -> dict[str, pl.DataFrame]:
    """An empty frame for each scope of ``DECLARED_SCOPES`` that ``policy`` has rules for and
    ``frames`` lack (real records have no grade units), with the metrics the rules read: a
    rule with no units has nothing missing."""
    out: dict[str, pl.DataFrame] = {}
    for scope in DECLARED_SCOPES:
        if scope in frames or not any(r.scope.value == scope for r in policy.rules):
            continue
        names = sorted({n for need in metrics_needed(policy).values() for n in need.get(scope, ())})
        schema: dict[str, Any] = {UNIT: pl.String, DATE: pl.Date}
        schema.update(dict.fromkeys(names, pl.Int64))
        out[scope] = pl.DataFrame(schema=schema)
    return out


def _evaluate_rule(
    rule: m.Rule,
    policy: m.Policy,
    grids: dict[str, Grid],
    axis: Axis,
    settings: Settings,
    interps: dict[str, Decimal | bool | str],
    in_term: Bool,
    authorisations: pl.DataFrame | None,
    keep: bool,
    missing: set[tuple[str, str]],
    strict: bool,
    series: Mapping[str, tuple[dt.date, dt.date] | None],
) -> RuleResult:
    grid = grids[rule.scope.value]
    shape = grid.shape
    segments = segments_for(rule, policy, axis, settings)
    result = RuleResult(rule, segments)

    def by_segment(compute: Callable[[Context], Any], out: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Evaluate on each segment's parameter values; keep each segment's own days."""
        for seg in segments:
            if seg.inactive is not None:
                continue
            if keep and seg.record is None:
                seg.record = {}
            ctx = Context(
                policy, grids, rule.scope.value, seg.values, interps, seg.record, missing, strict
            )
            try:
                got = compute(ctx)
            except nodes.Inactive as gone:
                seg.inactive = gone.param
                continue
            out[:, seg.mask] = got[:, seg.mask]
        return out

    def per_segment_condition(cond: m.Condition) -> Bool:
        value = by_segment(
            lambda ctx: nodes.condition(cond, ctx).value, np.zeros(shape, dtype=bool)
        )
        return value & in_term[None, :]

    if rule.when is not None:
        trigger = per_segment_condition(rule.when)
        result.trigger = trigger
        result.known = (
            _inputs_known(rule.when, grid, axis, interps, segments, in_term, series) | trigger
        )
        timing = rule.timing
        if isinstance(timing.exit_when, str):
            exit_ok = (
                ~trigger if timing.exit_when == "trigger_cleared" else np.ones(shape, dtype=bool)
            )
        else:
            exit_ok = per_segment_condition(timing.exit_when) | ~in_term[None, :]
        start_at = _timing_array(timing.notice, segments, axis, interps, inclusive=False)
        result.blind = _blind_days(result.known, start_at)
        min_end = (
            _timing_array(timing.min_duration, segments, axis, interps, inclusive=True)
            if timing.min_duration
            else np.arange(axis.days, dtype=np.int64) + 1
        )
        max_end = (
            _timing_array(timing.max_duration, segments, axis, interps, inclusive=True)
            if timing.max_duration
            else np.full(axis.days, NEVER, dtype=np.int64)
        )
        assert rule.effect is not None
        automatic = rule.effect.action == m.Action.automatic
        authorised = _authorised(authorisations, rule, grid) if not automatic else None
        return_at = _timing_array(timing.return_notice, segments, axis, interps, inclusive=False)
        result.spells = run_spells(
            trigger, exit_ok, start_at, min_end, max_end, authorised, automatic, return_at
        )
        result.spells.in_effect &= in_term[None, :]
    else:
        assert rule.classify is not None
        assert rule.levels is not None
        top = len(rule.levels) - 1
        classify = rule.classify
        lv = by_segment(
            lambda ctx: np.clip(nodes.level(classify, ctx), nodes.UNASSIGNED, top),
            np.full(shape, -1, dtype=np.int64),
        )
        lv[:, ~in_term] = -1
        result.level = lv
        result.recommended = _recommend(
            rule, policy, grids, lv, segments, interps, keep, missing, strict
        )
    return result


def _blind_days(known: Bool, start_at: Int) -> Bool:
    """The unit-days whose mode rests on a day without the rule's inputs: a trigger evaluated
    on day t (data through t) takes effect on ``start_at[t]`` (after the notice), so an unknown
    trigger on t leaves the mode of ``start_at[t]`` undecided by this rule."""
    units, days = known.shape
    blind = np.zeros((units, days), dtype=bool)
    starts = np.asarray(start_at, dtype=np.int64)
    valid = np.flatnonzero((starts >= 0) & (starts < days))
    if not valid.size:
        return blind
    # the days t in order of start_at[t]; those sharing a start (a weekend's days and the
    # Friday before, with school days of notice) are or-ed together
    order = valid[np.argsort(starts[valid], kind="stable")]
    targets = starts[order]
    unknown = ~known[:, order]
    first = np.flatnonzero(np.r_[True, targets[1:] != targets[:-1]])
    if first.size == targets.size:
        blind[:, targets] = unknown
    else:
        blind[:, targets[first]] = np.logical_or.reduceat(unknown, first, axis=1)
    return blind


SeriesDays = Mapping[str, Mapping[str, tuple[dt.date, dt.date] | None]]
"""Scope -> metric -> the first and last day of its series (None: no value on any day)."""


def series_days(
    frames: Mapping[str, pl.DataFrame],
) -> dict[str, dict[str, tuple[dt.date, dt.date] | None]]:
    """Each scope's metrics' series: from the first to the last day on which any unit has a
    value. Inside, a unit-day without a value is a day with nothing reported (a condition on
    it is not met, as always); outside, the series has not reported yet or has ended, so the
    metric is unknown (:func:`_inputs_known`: the trigger rules reading it give ``no_data``)."""
    out: dict[str, dict[str, tuple[dt.date, dt.date] | None]] = {}
    for scope, frame in frames.items():
        metrics = [
            name
            for name, dtype in frame.schema.items()
            if name not in (UNIT, DATE) and dtype != pl.String and dtype != pl.Categorical
        ]
        if not metrics:
            out[str(scope)] = {}
            continue
        bounds = frame.select(
            expr
            for name in metrics
            for expr in (
                pl.col(DATE).filter(pl.col(name).is_not_null()).min().alias(f"{name}\x00lo"),
                pl.col(DATE).filter(pl.col(name).is_not_null()).max().alias(f"{name}\x00hi"),
            )
        ).row(0, named=True)
        days: dict[str, tuple[dt.date, dt.date] | None] = {}
        for name in metrics:
            lo, hi = bounds[f"{name}\x00lo"], bounds[f"{name}\x00hi"]
            if isinstance(lo, dt.datetime):
                lo, hi = lo.date(), hi.date()
            days[name] = (lo, hi) if isinstance(lo, dt.date) and isinstance(hi, dt.date) else None
        out[str(scope)] = days
    return out


def _covered(days: tuple[dt.date, dt.date] | None, axis: Axis) -> Bool:
    """The days of ``axis`` inside a series' ``days``."""
    out = np.zeros(axis.days, dtype=bool)
    if days is not None:
        lo = max(axis.index(days[0]), 0)
        hi = min(axis.index(days[1]), axis.days - 1)
        if lo <= hi:
            out[lo : hi + 1] = True
    return out


def _inputs_known(
    cond: m.Condition,
    grid: Grid,
    axis: Axis,
    interps: dict[str, Decimal | bool | str],
    segments: list[Segment],
    in_term: Bool,
    series: Mapping[str, tuple[dt.date, dt.date] | None],
) -> Bool:
    """Whether a trigger rule has its inputs on each unit-day: every metric its condition
    reads at the rule's scope (:func:`nodes.metrics_read`) is inside its series' days
    (:func:`series_days`). A metric the frames lack altogether is not a series: it is listed
    in ``Evaluation.missing_metrics`` (an error with ``strict``) and counts as known here.
    A metric whose daily changes a ``trend`` reads (:func:`nodes.trends_read`) is not known
    on a day when it is derived (``<metric>_derived`` is 1) that day or the day before.
    True outside the term and where the rule is inactive (it does not apply there)."""
    covered = np.ones(axis.days, dtype=bool)
    for name in sorted(nodes.metrics_read(cond, interps)):
        if name in grid.metrics:
            covered &= _covered(series.get(name), axis)
    known = np.broadcast_to(covered, grid.shape).copy()
    for name in sorted(nodes.trends_read(cond, interps)):
        flag = grid.metrics.get(name + DERIVED_SUFFIX)
        if flag is not None:
            derived = np.asarray(flag.num != 0) & np.asarray(flag.known)
            known[:, :] &= ~derived
            known[:, 1:] &= ~derived[:, :-1]
    for seg in segments:
        if seg.inactive is not None:
            known[:, seg.mask] = True
    return known | ~in_term[None, :]


def _timing_array(
    duration: m.Duration | None,
    segments: list[Segment],
    axis: Axis,
    interps: dict[str, Decimal | bool | str],
    *,
    inclusive: bool,
) -> Int:
    assert duration is not None
    out = np.zeros(axis.days, dtype=np.int64)
    for seg in segments:
        ctx_values = dict(seg.values.items())

        def resolve(ref: m.ValueRef, values: dict[str, Value] = ctx_values) -> Decimal | bool | str:
            if isinstance(ref, m.ParamRef):
                v = values.get(ref.param)
                return nodes.scalar(ref.param, v) if v is not None else Decimal(0)
            if isinstance(ref, m.InterpRef):
                return interps[ref.interp]
            return ref

        days = resolve(duration.days)
        if isinstance(days, bool) or not isinstance(days, Decimal | int):
            raise EvaluationError(f"a duration must be a number of days, got {days!r}")
        count, unit = duration_in_days(int(days), str(resolve(duration.unit)))
        arr = advance(axis, count, unit, inclusive_start=inclusive)
        out[seg.mask] = arr[seg.mask]
    return out


def _authorised(frame: pl.DataFrame | None, rule: m.Rule, grid: Grid) -> Bool:
    out = np.zeros(grid.shape, dtype=bool)
    if frame is None or frame.height == 0:
        return out
    rows = frame.filter((pl.col("rule") == rule.id) & pl.col(UNIT).is_in(grid.units))
    for unit, day in zip(rows[UNIT].to_list(), rows[DATE].to_list(), strict=True):
        i = grid.axis.index(day)
        if 0 <= i < grid.axis.days:
            out[grid.unit_index(unit), i] = True
    return out


def _recommend(
    rule: m.Rule,
    policy: m.Policy,
    grids: dict[str, Grid],
    lv: Int,
    segments: list[Segment],
    interps: dict[str, Decimal | bool | str],
    keep: bool,
    missing: set[tuple[str, str]],
    strict: bool,
) -> Int:
    assert rule.levels is not None
    modes = policy.mode_ids()
    out = np.full(lv.shape, -1, dtype=np.int64)
    if not rule.recommend:
        return out
    done = np.zeros(lv.shape, dtype=bool)
    for rec in rule.recommend:
        if rec.when is None:
            applies = np.ones(lv.shape, dtype=bool)
        else:
            applies = np.zeros(lv.shape, dtype=bool)
            for seg in segments:
                if seg.inactive is not None:
                    continue
                ctx = Context(
                    policy,
                    grids,
                    rule.scope.value,
                    seg.values,
                    interps,
                    seg.record if keep else None,
                    missing,
                    strict,
                )
                applies[:, seg.mask] = nodes.condition(rec.when, ctx).value[:, seg.mask]
        lookup = np.array(
            [modes.index(rec.modes[lvl]) if lvl in rec.modes else -1 for lvl in rule.levels],
            dtype=np.int64,
        )
        take = applies & ~done & (lv >= 0)
        out[take] = lookup[lv[take]]
        done |= take
    return out


def _combine(policy: m.Policy, grid: Grid, results: list[RuleResult], in_term: Bool) -> ScopeResult:
    shape = grid.shape
    mode = np.zeros(shape, dtype=np.int64)
    responsible = np.full(shape, -1, dtype=np.int64)
    eligible = np.full(shape, -1, dtype=np.int64)
    ids = policy.mode_ids()
    for index, rr in enumerate(results):
        if rr.spells is not None:
            assert rr.rule.effect is not None
            severity = ids.index(rr.rule.effect.mode)
            stronger = rr.spells.in_effect & (severity > mode)
            mode[stronger] = severity
            responsible[stronger] = index
            if rr.rule.effect.action == m.Action.eligible and rr.trigger is not None:
                eligible = np.where(rr.trigger & (severity > eligible), severity, eligible)
        elif rr.recommended is not None:
            stronger = rr.recommended > mode
            mode[stronger] = rr.recommended[stronger]
            responsible[stronger] = index
            unset = (responsible < 0) & (rr.recommended >= 0)
            responsible[unset] = index
    for rr in results:
        if rr.recommended is not None and rr.level is not None and rr.rule.recommend:
            blind = (rr.level < 0) & (responsible < 0)
            mode[blind] = NO_DATA
        elif rr.blind is not None:
            mode[rr.blind & (responsible < 0)] = NO_DATA
    mode[:, ~in_term] = NOT_IN_FORCE
    responsible[:, ~in_term] = -1
    return ScopeResult(grid.scope, grid, mode, responsible, eligible, results)

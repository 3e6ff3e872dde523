"""Evaluate rule nodes over a whole grid at once.

Each node becomes numpy arrays of shape (units, days): operands are exact rationals,
conditions are boolean masks (False where data are missing, with a separate ``known``
mask), levels are small integers (-1 where unknown). Nothing here loops over units or
days in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from pydantic import BaseModel

from schoolmode.engine.grid import DERIVED_SUFFIX, PARENT, Grid
from schoolmode.engine.rational import (
    Bool,
    Int,
    Rational,
    compare,
    divide,
    round_half_up,
    scale,
    subtract,
)
from schoolmode.policy import model as m
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.policy.walk import children


class EvaluationError(SchoolmodeError):
    """A policy cannot be evaluated on the frames given (a missing metric, say)."""


def scalar(name: str, value: Decimal | bool | str | list[int]) -> Decimal | bool | str:
    """A parameter value a rule can compare with (a list-valued parameter cannot feed a rule)."""
    if isinstance(value, list):
        raise EvaluationError(f"parameter {name!r} is a list of numbers; a rule needs one value")
    return value


@dataclass
class CondValue:
    value: Bool
    known: Bool


Recorded = Rational | CondValue | Int


@dataclass
class Context:
    policy: m.Policy
    grids: dict[str, Grid]
    scope: str
    values: dict[str, Decimal | bool | str | list[int] | None]  # parameter values for this segment
    interps: dict[str, Decimal | bool | str]
    record: dict[int, Recorded] | None = None
    missing: set[tuple[str, str]] = field(default_factory=set)
    strict: bool = False

    @property
    def grid(self) -> Grid:
        try:
            return self.grids[self.scope]
        except KeyError:
            raise EvaluationError(
                f"policy {self.policy.id!r} has {self.scope}-level rules but no {self.scope} frame was given"
            ) from None

    def keep(self, node: object, value: Recorded) -> None:
        if self.record is not None:
            self.record[id(node)] = value

    # ------------------------------------------------------------------ values
    def resolve(self, ref: m.ValueRef) -> Decimal | bool | str:
        if isinstance(ref, m.ParamRef):
            value = self.values.get(ref.param)
            if value is None:
                raise _Inactive(ref.param)
            return scalar(ref.param, value)
        if isinstance(ref, m.InterpRef):
            return self.interps[ref.interp]
        return ref

    def number(self, ref: m.ValueRef) -> Decimal:
        value = self.resolve(ref)
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise EvaluationError(f"expected a number, got {value!r} (from {ref!r})")
        return Decimal(value)

    def integer(self, ref: m.ValueRef) -> int:
        value = self.number(ref)
        if value != value.to_integral_value() or value < 0:
            raise EvaluationError(f"expected a whole number of days or units, got {value}")
        return int(value)

    def word(self, ref: m.ValueRef) -> str:
        return str(self.resolve(ref))


class _Inactive(Exception):
    """A parameter the rule needs has no value on these days: the rule does not apply."""

    def __init__(self, param: str) -> None:
        self.param = param


# ---------------------------------------------------------------------- operands


def operand(node: m.Operand, ctx: Context) -> Rational:
    result = _operand(node, ctx)
    ctx.keep(node, result)
    return result


def _operand(node: m.Operand, ctx: Context) -> Rational:
    grid = ctx.grid
    if isinstance(node, m.MetricOp):
        found = grid.metrics.get(node.metric)
        if found is not None:
            return found
        if ctx.strict:
            known = ", ".join(sorted(grid.metrics)) or "none"
            raise EvaluationError(
                f"policy {ctx.policy.id!r} needs the {ctx.scope} metric `{node.metric}`, which the "
                f"{ctx.scope} frame does not have (it has: {known})"
            )
        ctx.missing.add((ctx.scope, node.metric))
        return Rational(np.zeros(grid.shape, dtype=np.int64), 1, np.zeros(grid.shape, dtype=bool))
    if isinstance(node, m.ConstOp):
        return Rational.of_decimal(ctx.number(node.value))
    if isinstance(node, m.ShareOp):
        return divide(operand(node.share.of, ctx), operand(node.share.per, ctx), node.share.percent)
    if isinstance(node, m.DifferenceOp):
        spec = node.difference
        return subtract(operand(spec.of, ctx), operand(spec.minus, ctx), spec.floor_zero)
    if isinstance(node, m.WindowSumOp):
        window = node.window_sum
        days = ctx.integer(window.days)
        if window.kind == "within_days_of_each_other":
            days += 1
        elif window.kind == "to_date":
            days = grid.axis.days
        return window_sum(operand(window.of, ctx), days, ctx.word(window.unit), grid)
    if isinstance(node, m.PickOp):
        return operand(node.pick.cases[str(ctx.interps[node.pick.interp])], ctx)
    if isinstance(node, m.LagOp):
        return lag(operand(node.lag.of, ctx), ctx.integer(node.lag.days))
    raise EvaluationError(f"unknown operand {node!r}")


def _full(value: Any, shape: tuple[int, int], dtype: Any) -> Any:
    return np.broadcast_to(np.asarray(value, dtype=dtype), shape)


def window_sum(of: Rational, days: int, unit: str, grid: Grid) -> Rational:
    """Sum over the last ``days`` days (calendar or school) up to and including each day.

    Missing days count as zero events; the result is known on every day.
    """
    if of.scalar_den() is None:
        raise EvaluationError("window_sum adds counts or fixed-point values, not ratios")
    if days < 1:
        raise EvaluationError("a window must be at least one day long")
    shape = grid.shape
    num = np.where(_full(of.known, shape, bool), _full(of.num, shape, np.int64), 0)
    if unit == m.DayUnit.school_days:
        num = num * grid.axis.school[None, :]
    cum = np.cumsum(num, axis=1, dtype=np.int64)
    padded = np.concatenate([np.zeros((shape[0], 1), dtype=np.int64), cum], axis=1)
    if unit == m.DayUnit.calendar_days:
        start = np.maximum(np.arange(shape[1]) - days + 1, 0)
    elif unit == m.DayUnit.school_days:
        positions = grid.axis.school_positions()
        count_upto = np.cumsum(grid.axis.school)  # school days <= d
        first_ordinal = count_upto - days  # index of the first school day in the window
        start = np.where(
            first_ordinal > 0,
            positions[np.clip(first_ordinal, 0, max(len(positions) - 1, 0))]
            if len(positions)
            else 0,
            0,
        )
    else:
        raise EvaluationError(f"unknown day unit {unit!r}")
    total = padded[:, 1:] - padded[:, start]
    return Rational(total.astype(np.int64), of.den, np.ones(shape, dtype=bool))


def lag(of: Rational, days: int) -> Rational:
    shape = np.shape(of.num) if np.ndim(of.num) == 2 else None
    if shape is None or days == 0:
        return of
    u, d = shape
    num = np.zeros((u, d), dtype=np.int64)
    known = np.zeros((u, d), dtype=bool)
    if days < d:
        num[:, days:] = np.asarray(of.num)[:, : d - days]
        known[:, days:] = _full(of.known, (u, d), bool)[:, : d - days]
    if of.scalar_den() is not None:
        return Rational(num, of.den, known)
    den = np.ones((u, d), dtype=np.int64)
    if days < d:
        den[:, days:] = np.asarray(of.den)[:, : d - days]
    return Rational(num, den, known)


# ---------------------------------------------------------------------- conditions


def condition(node: m.Condition, ctx: Context) -> CondValue:
    result = _condition(node, ctx)
    ctx.keep(node, result)
    return result


def _cv(value: Any, known: Any, shape: tuple[int, int]) -> CondValue:
    return CondValue(
        np.broadcast_to(np.asarray(value, dtype=bool), shape).copy(),
        np.broadcast_to(np.asarray(known, dtype=bool), shape).copy(),
    )


def _comparator(op: str | m.InterpRef, ctx: Context) -> str:
    return ctx.word(op) if isinstance(op, m.InterpRef) else op


def _condition(node: m.Condition, ctx: Context) -> CondValue:
    shape = ctx.grid.shape
    if isinstance(node, m.ThresholdCond):
        spec = node.threshold
        left = operand(spec.of, ctx)
        if spec.round_to is not None:
            left = round_half_up(left, spec.round_to)
            ctx.keep(spec, left)
        value, known = compare(
            left, _comparator(spec.op, ctx), Rational.of_decimal(ctx.number(spec.value))
        )
        return _cv(value, known, shape)
    if isinstance(node, m.AllCond):
        parts = [condition(c, ctx) for c in node.all]
        return CondValue(
            np.logical_and.reduce([p.value for p in parts]),
            np.logical_and.reduce([p.known for p in parts]),
        )
    if isinstance(node, m.AnyCond):
        parts = [condition(c, ctx) for c in node.any]
        value = np.logical_or.reduce([p.value for p in parts])
        known = np.logical_or(value, np.logical_and.reduce([p.known for p in parts]))
        return CondValue(value, known)
    if isinstance(node, m.NotCond):
        inner = condition(node.not_, ctx)
        return CondValue(np.logical_and(~inner.value, inner.known), inner.known)
    if isinstance(node, m.AtLeastCond):
        parts = [condition(c, ctx) for c in node.at_least.of]
        k = ctx.integer(node.at_least.k)
        count = np.sum([p.value for p in parts], axis=0)
        unknown = np.sum([~p.known for p in parts], axis=0)
        value = count >= k
        return CondValue(value, value | (count + unknown < k))
    if isinstance(node, m.SustainedCond):
        inner = condition(node.sustained.condition, ctx)
        return sustained(
            inner, ctx.integer(node.sustained.days), ctx.word(node.sustained.unit), ctx.grid
        )
    if isinstance(node, m.TrendCond):
        return trend(node.trend, ctx)
    if isinstance(node, m.ShareOfUnitsCond):
        return share_of_units(node, ctx)
    if isinstance(node, m.ChooseCond):
        choice = str(ctx.interps[node.choose.interp])
        return condition(node.choose.cases[choice], ctx)
    if isinstance(node, m.AttributeCond):
        name = node.attribute.name
        values = ctx.grid.attributes.get(name)
        if values is None:
            raise EvaluationError(
                f"policy {ctx.policy.id!r} needs the {ctx.scope} attribute `{name}` (a text column), "
                f"which the {ctx.scope} frame does not have"
            )
        member = np.isin(values, node.attribute.in_)[:, None]
        return _cv(member, True, shape)
    if isinstance(node, m.ConstantCond):
        return _cv(node.constant, True, shape)
    raise EvaluationError(f"unknown condition {node!r}")


def streak(value: Bool) -> Int:
    """Length of the run of consecutive True values ending at each day (0 where False)."""
    counts = np.cumsum(value, axis=1, dtype=np.int64)
    resets = np.where(value, 0, counts)
    np.maximum.accumulate(resets, axis=1, out=resets)
    return counts - resets


def sustained(inner: CondValue, days: int, unit: str, grid: Grid) -> CondValue:
    if days < 1:
        raise EvaluationError("`sustained` needs at least one day")
    if unit == m.DayUnit.calendar_days:
        run = streak(inner.value)
        return CondValue(run >= days, inner.known | (run >= days))
    if unit == m.DayUnit.school_days:
        cols = grid.axis.school_positions()
        run_school = streak(inner.value[:, cols])
        value = np.zeros(grid.shape, dtype=bool)
        value[:, cols] = run_school >= days
        known = np.zeros(grid.shape, dtype=bool)
        known[:, cols] = inner.known[:, cols] | value[:, cols]
        return CondValue(value, known)
    raise EvaluationError(f"unknown day unit {unit!r}")


def trend(spec: m.TrendSpec, ctx: Context) -> CondValue:
    of = operand(spec.of, ctx)
    days = ctx.integer(spec.rising_days)
    lag_days = ctx.integer(spec.lag_days)
    factor = Rational.of_decimal(ctx.number(spec.factor))
    rise, rise_known = compare(of, ">", lag(of, 1))
    week, week_known = compare(of, spec.factor_op, scale(lag(of, lag_days), factor))
    daily = CondValue(rise & week, np.logical_and(rise_known, week_known))
    changeless = derived_days(spec.of, ctx)
    if changeless is not None:  # a derived value has no daily change: not met, not known
        daily = CondValue(daily.value & ~changeless, daily.known & ~changeless)
    ctx.keep(spec, daily)
    return sustained(daily, days, m.DayUnit.calendar_days, ctx.grid)


def derived_days(of: m.Operand, ctx: Context) -> Bool | None:
    """The unit-days on which a metric under ``of`` is derived from a coarser series (the
    grid's ``<metric>_derived`` is 1) that day or the day before, or None when none is."""
    out: Bool | None = None
    for name in sorted(metrics_read(of, ctx.interps)):
        flag = ctx.grid.metrics.get(name + DERIVED_SUFFIX)
        if flag is None:
            continue
        derived = np.asarray(flag.num != 0) & np.asarray(flag.known)
        both = derived.copy()
        both[:, 1:] |= derived[:, :-1]
        out = both if out is None else out | both
    return out


def share_of_units(node: m.ShareOfUnitsCond, ctx: Context) -> CondValue:
    spec = node.share_of_units
    parent_grid = ctx.grid
    if spec.scope.value not in ctx.grids and not ctx.strict:
        ctx.missing.add((spec.scope.value, "<frame>"))
        return _cv(False, False, parent_grid.shape)
    child_ctx = Context(
        ctx.policy, ctx.grids, spec.scope.value, ctx.values, ctx.interps, ctx.record
    )
    child = condition(spec.condition, child_ctx)
    child_grid = child_ctx.grid
    parents = child_grid.attributes.get(PARENT)
    if parents is None:
        if len(parent_grid.units) != 1:
            raise EvaluationError(
                f"the {spec.scope.value} frame needs a `parent` column naming each unit's "
                f"{ctx.scope} when the {ctx.scope} frame has several units"
            )
        parent_idx = np.zeros(len(child_grid.units), dtype=np.int64)
    else:
        lookup = {u: i for i, u in enumerate(parent_grid.units)}
        parent_idx = np.array([lookup.get(p, -1) for p in parents], dtype=np.int64)
    counted = parent_idx >= 0
    p = len(parent_grid.units)
    hits = np.zeros(parent_grid.shape, dtype=np.int64)
    np.add.at(hits, parent_idx[counted], child.value[counted].astype(np.int64))
    totals = np.bincount(parent_idx[counted], minlength=p).astype(np.int64)
    share = divide(
        Rational(hits, 1),
        Rational(np.broadcast_to(totals[:, None], parent_grid.shape).copy(), 1),
        True,
    )
    ctx.keep(spec, share)
    value, known = compare(
        share, _comparator(spec.op, ctx), Rational.of_decimal(ctx.number(spec.value))
    )
    return _cv(value, known, parent_grid.shape)


# ---------------------------------------------------------------------- levels


UNASSIGNED = -2
"""The level of a value the band table leaves in no band (``-1``: the value is unknown)."""


def level(node: m.LevelExpr, ctx: Context) -> Int:
    result = _level(node, ctx)
    ctx.keep(node, result)
    return result


def _level(node: m.LevelExpr, ctx: Context) -> Int:
    shape = ctx.grid.shape
    if isinstance(node, m.BandsLevel):
        spec = node.bands
        value = operand(spec.of, ctx)
        if spec.round_to is not None:
            value = round_half_up(value, spec.round_to)
            ctx.keep(spec, value)
        band = np.zeros(shape, dtype=np.int64)
        gap = np.zeros(shape, dtype=bool)
        known = np.broadcast_to(np.asarray(value.known, dtype=bool), shape)
        for at, boundary in spec.cut_list():
            convention = ctx.word(boundary)
            if convention not in m.BOUNDARIES:
                raise EvaluationError(
                    f"boundary {convention!r} (from {boundary!r}) is none of "
                    f"{', '.join(m.BOUNDARIES)}"
                )
            cut = Rational.of_decimal(ctx.number(at))
            above, _ = compare(value, ">=" if convention == "lower_inclusive" else ">", cut)
            band += np.broadcast_to(above, shape)
            if convention == "unassigned":
                equal, _ = compare(value, "==", cut)
                gap |= np.broadcast_to(equal, shape)
        out = spec.offset + band
        for unassigned in spec.unassigned:
            gap |= band == unassigned
            out -= band > unassigned  # the levels above a gap stay consecutive
        return np.where(known, np.where(gap, UNASSIGNED, out), -1)
    if isinstance(node, m.MostSevereLevel):
        parts = np.stack([level(p, ctx) for p in node.most_severe])
        unknown = (parts == -1).any(axis=0)
        gap = (parts == UNASSIGNED).any(axis=0)
        return np.where(unknown, -1, np.where(gap, UNASSIGNED, parts.max(axis=0)))
    if isinstance(node, m.IfLevel):
        branch = node.if_
        test = condition(branch.condition, ctx)
        then, other = level(branch.then, ctx), level(branch.else_, ctx)
        return np.where(test.known, np.where(test.value, then, other), -1)
    raise EvaluationError(f"unknown level expression {node!r}")


Inactive = _Inactive


def _read(node: BaseModel, interps: dict[str, Decimal | bool | str], trends: bool) -> set[str]:
    """The metrics a condition reads at its rule's own scope (``trends``: only those under a
    ``trend``), following the interpretation chosen at each ``choose`` and ``pick``; a
    ``share_of_units`` reads another scope's units and is left out."""
    if trends and isinstance(node, m.TrendCond):
        return _read(node.trend.of, interps, trends=False)
    if not trends and isinstance(node, m.MetricOp):
        return {node.metric}
    if isinstance(node, m.ShareOfUnitsCond):
        return set()
    if isinstance(node, m.ChooseCond):
        return _read(node.choose.cases[str(interps[node.choose.interp])], interps, trends)
    if isinstance(node, m.PickOp):
        return _read(node.pick.cases[str(interps[node.pick.interp])], interps, trends)
    out: set[str] = set()
    for child in children(node):
        out |= _read(child, interps, trends)
    return out


def metrics_read(node: BaseModel, interps: dict[str, Decimal | bool | str]) -> set[str]:
    """The metrics a condition reads at its rule's own scope, following the interpretation
    chosen at each ``choose`` and ``pick`` (a ``share_of_units`` reads another scope's units
    and is left out): a rule whose condition has one of these unknown on a day lacks an input
    that day (``evaluate``: its unit-day is ``no_data`` unless another rule applies)."""
    return _read(node, interps, trends=False)


def trends_read(node: BaseModel, interps: dict[str, Decimal | bool | str]) -> set[str]:
    """The metrics whose day-to-day changes a condition reads: those under a ``trend`` (at the
    rule's own scope, following the interpretation chosen at each ``choose`` and ``pick``).
    A trend compares each day's value with the day before, so on a day whose value of one of
    them is derived from a coarser series (``<metric>_derived`` is 1 that day or the day
    before: a weekly value held for a week never rises from one day to the next) the rule
    lacks an input (``evaluate``: ``no_data`` unless another rule applies)."""
    return _read(node, interps, trends=True)

"""The district's public metrics over time with each policy's thresholds on them (the
district page's charts): the citywide series of the stored public release, and every
threshold a policy's district rule sets on the same metric, with its value in force on the
day. Rates and shares only: no count of people."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import TypeVar

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict

from schoolmode.access.roles import ANONYMOUS
from schoolmode.app.context import Context
from schoolmode.app.metrics import MetricsRequest, metrics_frame
from schoolmode.i18n import N_
from schoolmode.metrics.community import DERIVED
from schoolmode.policy import model as m

SERIES = {
    # public citywide column: (the engine's metric the policies name, title, unit)
    "positivity_7d": ("positivity_7d_pct", N_("Citywide test positivity, 7 days"), "%"),
    "positivity_14d": ("positivity_14d_pct", N_("Citywide test positivity, 14 days"), "%"),
    "cases_per_100k_14d": (
        "cases_per_100k_14d",
        N_("Citywide cases per 100,000 residents, 14 days"),
        N_("per 100,000"),
    ),
}
CHART_DAYS = 120
T = TypeVar("T")


class Line(BaseModel):
    """A policy's threshold on a metric, in force on the day."""

    model_config = ConfigDict(frozen=True)

    policy_id: str
    policy_title: str
    rule_title: str
    op: str
    value: float
    level: str | None = None
    """For a cut of a level rule's band table: the level a value past the cut is in."""


class Rise(BaseModel):
    """A policy's rule on a rise of the metric (a trend), which no line can draw."""

    model_config = ConfigDict(frozen=True)

    policy_id: str
    policy_title: str
    rule_title: str
    days: int | None
    """Consecutive days of rise it needs (None: a parameter without a value on the day)."""
    held: list[dt.date] = []
    """The days of the chart on which its rise condition held on the released figures (the
    engine evaluating the policy over the chart's days, whatever its term)."""


class Chart(BaseModel):
    model_config = ConfigDict(frozen=True)

    column: str
    title: str
    unit: str
    first: dt.date
    last: dt.date
    """The period drawn (a series may stop before its end: the chart shows the gap)."""
    points: list[tuple[dt.date, float]]
    lines: list[Line]
    rises: list[Rise] = []
    derived: list[dt.date] = []
    """The days whose value is derived from a coarser series (the citywide positivity after
    CDPH's daily by-test series ends: from the weekly ZIP-code tests), drawn apart."""


def _found(node: object, kind: type[T]) -> Iterator[T]:
    """Every node of ``kind`` under a policy node (any nesting; not inside one found)."""
    if isinstance(node, kind):
        yield node
        return
    if isinstance(node, list):
        for item in node:
            yield from _found(item, kind)
    elif isinstance(node, m.Strict):
        for name in type(node).model_fields:
            yield from _found(getattr(node, name), kind)


def _thresholds(node: object) -> Iterator[m.ThresholdCond]:
    """Every threshold condition under a policy node."""
    return _found(node, m.ThresholdCond)


def _threshold_lines(
    ctx: Context, scope: m.Scope, day: dt.date
) -> Iterator[tuple[Line, m.ThresholdSpec, m.Policy]]:
    """Each shipped policy's threshold conditions in its rules at ``scope`` with a number
    on ``day``: the line drawn, the condition's spec (what it compares) and the policy."""
    for loaded in ctx.registry.all():
        p = loaded.policy
        for rule in p.rules:
            if rule.scope != scope or rule.when is None:
                continue
            for cond in _thresholds(rule.when):
                spec = cond.threshold
                value = _value(p, spec.value, day)
                if value is None or isinstance(spec.op, m.InterpRef):
                    continue
                line = Line(
                    policy_id=p.id,
                    policy_title=p.title,
                    rule_title=rule.title,
                    op=str(spec.op),
                    value=float(value),
                )
                yield line, spec, p


def _value(policy: m.Policy, ref: object, day: dt.date) -> Decimal | None:
    """A threshold's value on ``day``: a number, or its parameter's value in force then."""
    if isinstance(ref, Decimal | int | float):
        return Decimal(str(ref))
    if isinstance(ref, m.ParamRef):
        spec = policy.parameters.get(ref.param)
        if spec is None or not spec.values:
            return None
        current = spec.values[0]
        for v in spec.values:
            if v.from_ <= day:
                current = v
        return Decimal(str(current.value)) if isinstance(current.value, Decimal | int) else None
    return None


def policy_lines(ctx: Context, metric: str, day: dt.date) -> list[Line]:
    """Every shipped policy's district threshold on ``metric`` (its value on ``day``)."""
    out = [
        line
        for line, spec, _ in _threshold_lines(ctx, m.Scope.district, day)
        if isinstance(spec.of, m.MetricOp) and spec.of.metric == metric
    ]
    for loaded in ctx.registry.all():
        p = loaded.policy
        for rule in p.rules:
            if rule.classify is None or not rule.levels:
                continue
            for bands in _found(rule.classify, m.BandsLevel):
                table = bands.bands
                if not (isinstance(table.of, m.MetricOp) and table.of.metric == metric):
                    continue
                offset = table.offset if isinstance(table.offset, int) else 0
                for i, cut in enumerate(table.cuts):
                    at = cut.at if isinstance(cut, m.Cut) else cut
                    value = _value(p, at, day)
                    index = offset + i + 1 - sum(1 for gap in table.unassigned if gap <= i + 1)
                    if value is None or i + 1 in table.unassigned or index >= len(rule.levels):
                        continue
                    boundary = (
                        cut.boundary if isinstance(cut, m.Cut) and cut.boundary else table.boundary
                    )
                    if isinstance(boundary, m.InterpRef):
                        boundary = str(p.interpretations[boundary.interp].default)
                    line = Line(
                        policy_id=p.id,
                        policy_title=p.title,
                        rule_title=rule.title,
                        op=">" if boundary == "upper_inclusive" else ">=",
                        value=float(value),
                        level=rule.levels[index],
                    )
                    # one line per policy, cut and level (two rules may read one table)
                    if not any(
                        (o.policy_id, o.value, o.level) == (p.id, line.value, line.level)
                        for o in out
                    ):
                        out.append(line)
    return sorted(out, key=lambda line: (line.value, line.policy_id))


def policy_rises(ctx: Context, metric: str, day: dt.date) -> list[Rise]:
    """Every shipped policy's district rule on a rise of ``metric`` (a ``trend``)."""
    out = []
    for loaded in ctx.registry.all():
        p = loaded.policy
        for rule in p.rules:
            if rule.scope != m.Scope.district or rule.when is None:
                continue
            for node in _found(rule.when, m.TrendCond):
                spec = node.trend
                if not (isinstance(spec.of, m.MetricOp) and spec.of.metric == metric):
                    continue
                days = _value(p, spec.rising_days, day)
                out.append(
                    Rise(
                        policy_id=p.id,
                        policy_title=p.title,
                        rule_title=rule.title,
                        days=None if days is None else int(days),
                    )
                )
    return sorted(out, key=lambda r: r.policy_id)


SCHOOL_SERIES = {
    # public school column: (numerator metric, denominator metric, title)
    "students_quarantine_isolation_pct": (
        "students_quarantine_isolation",
        "enrolled",
        N_("Students in quarantine or isolation, share of those enrolled"),
    ),
    "covid_absent_teachers_pct": (
        "covid_absent_teachers",
        "classroom_teachers",
        N_("Classroom teachers absent for COVID-19, share"),
    ),
}
"""The school page's charts: shares the public release gives where neither of its counts is
hidden (a day with a hidden count is left out of the chart)."""


def share_lines(ctx: Context, of: str, per: str, day: dt.date) -> list[Line]:
    """Every shipped policy's school threshold on the share ``of`` / ``per``."""
    out: list[Line] = []
    for line, spec, p in _threshold_lines(ctx, m.Scope.school, day):
        left = spec.of
        if (
            isinstance(left, m.ShareOp)
            and (_metric(p, left.share.of), _metric(p, left.share.per)) == (of, per)
            and line not in out
        ):
            out.append(line)
    return sorted(out, key=lambda line: (line.value, line.policy_id))


def _metric(policy: m.Policy, node: object) -> str | None:
    """The metric an operand reads: itself, or the case its reading picks by default."""
    if isinstance(node, m.MetricOp):
        return node.metric
    if isinstance(node, m.PickOp):
        spec = policy.interpretations.get(node.pick.interp)
        chosen = node.pick.cases.get(str(spec.default)) if spec is not None else None
        return _metric(policy, chosen)
    return None


def school_charts(ctx: Context, school_id: str, day: dt.date) -> list[Chart]:
    """The school's released shares of the ``CHART_DAYS`` days up to ``day`` with the
    policies' school thresholds on them (a share without any released day is left out)."""
    start = day - dt.timedelta(days=CHART_DAYS - 1)
    frame, _, _ = metrics_frame(
        ctx,
        MetricsRequest(level="school", start=start, end=day, units=(school_id,), limit=1000),
        ANONYMOUS,
    )
    charts = []
    for column, (of, per, title) in SCHOOL_SERIES.items():
        if column not in frame.columns:
            continue
        rows = frame.select("date", column).drop_nulls().sort("date")
        points = [(d, float(v)) for d, v in rows.iter_rows() if v is not None]
        if not points:
            continue
        charts.append(
            Chart(
                column=column,
                title=title,
                unit="%",
                first=start,
                last=day,
                points=points,
                lines=share_lines(ctx, of, per, day),
            )
        )
    return charts


def held_days(
    ctx: Context,
    policy_id: str,
    metric: str,
    points: list[tuple[dt.date, float]],
    derived: set[dt.date] | None = None,
) -> list[dt.date]:
    """The days of ``points`` on which a district rise rule of the policy on ``metric`` held:
    the engine evaluates the policy (over these days, whatever its term) on the released
    figures alone; a rule's other conditions are not asked for. ``derived``: the days whose
    figure is derived from a coarser series (a rise is not evaluated on them, as in
    ``decide``)."""
    if not points:
        return []
    from schoolmode.engine.evaluate import evaluate
    from schoolmode.engine.grid import DERIVED_SUFFIX
    from schoolmode.engine.nodes import CondValue
    from schoolmode.engine.period import counterfactual

    frame = pl.DataFrame(
        {
            "unit": ["district"] * len(points),
            "date": [d for d, _ in points],
            metric: [Decimal(str(v)) for _, v in points],
            metric + DERIVED_SUFFIX: [int(d in (derived or ())) for d, _ in points],
        },
        schema={
            "unit": pl.String,
            "date": pl.Date,
            metric: pl.Decimal(38, 6),
            metric + DERIVED_SUFFIX: pl.Int8,
        },
    )
    used = counterfactual(ctx.registry.get(policy_id).policy, points[0][0])
    evaluation = evaluate(used, {"district": frame}, keep=True)
    result = evaluation.scopes.get("district")
    if result is None:
        return []
    held = np.zeros(evaluation.axis.days, dtype=bool)
    for rr in result.rules:
        nodes = [
            n
            for n in _found(rr.rule.when, m.TrendCond)
            if isinstance(n.trend.of, m.MetricOp) and n.trend.of.metric == metric
        ]
        for seg in rr.segments:
            for node in nodes:
                got = (seg.record or {}).get(id(node))
                if isinstance(got, CondValue):
                    held |= seg.mask & got.value[0] & got.known[0]
    return [evaluation.axis.date(int(i)) for i in np.flatnonzero(held)]


def district_charts(ctx: Context, day: dt.date) -> list[Chart]:
    """The citywide public series of the ``CHART_DAYS`` days up to ``day`` with the policies'
    thresholds on them (a series without any value in the period is left out)."""
    start = day - dt.timedelta(days=CHART_DAYS - 1)
    frame, _, _ = metrics_frame(
        ctx, MetricsRequest(level="citywide", start=start, end=day), ANONYMOUS
    )
    charts = []
    for column, (metric, title, unit) in SERIES.items():
        if column not in frame.columns:
            continue
        rows = frame.select("date", column).drop_nulls().sort("date")
        if rows.is_empty():
            continue
        points = [(d, float(v)) for d, v in rows.iter_rows() if v is not None]
        derived = (
            frame.filter(pl.col(column).is_not_null() & (pl.col("positivity_basis") == DERIVED))[
                "date"
            ]
            .sort()
            .to_list()
            if column.startswith("positivity") and "positivity_basis" in frame.columns
            else []
        )
        lines = policy_lines(ctx, metric, day)
        rises = [
            r.model_copy(update={"held": held_days(ctx, r.policy_id, metric, points, set(derived))})
            for r in policy_rises(ctx, metric, day)
        ]
        charts.append(
            Chart(
                column=column,
                title=title,
                unit=unit,
                first=start,
                last=day,
                points=points,
                lines=lines,
                rises=rises,
                derived=derived,
            )
        )
    return charts


__all__ = [
    "Chart",
    "Line",
    "Rise",
    "district_charts",
    "held_days",
    "policy_lines",
    "policy_rises",
    "school_charts",
    "share_lines",
]

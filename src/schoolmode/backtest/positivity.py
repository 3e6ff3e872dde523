"""The backtest's rules on citywide test positivity: which series each read, over which days,
and what it gave (the report's section "Rules on citywide test positivity")."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from schoolmode.backtest.run import Backtest
from schoolmode.backtest.summary import NOT_IN_FORCE
from schoolmode.engine.nodes import metrics_read, trends_read
from schoolmode.engine.period import PolicyRun, counterfactual
from schoolmode.metrics.community import BY_TEST, DERIVED
from schoolmode.policy import model as m
from schoolmode.policy.walk import walk

POSITIVITY_COLUMNS = ("positivity_7d_pct", "positivity_14d_pct")
"""The citywide positivity columns of the district frame (``metrics.frames.DERIVED_COLUMNS``)."""
DERIVED_FLAG = "_derived"
"""The suffix of a column's 0/1 derived-day flag (``metrics.frames.DERIVED_FLAG``)."""
BASIS_WORDS = {
    BY_TEST: "daily, by test (cdph-daily-testing)",
    DERIVED: "derived from the weekly ZIP-code tests (cdph-zip-weekly)",
}
"""How the positivity-rule table names the series of a day's positivity."""

POSITIVITY_RULES_SCHEMA = {
    "policy": pl.String,
    "rule": pl.String,
    "reads": pl.String,
    "kind": pl.String,
    "series": pl.String,
    "first": pl.Date,
    "last": pl.Date,
    "days": pl.Int64,
    "days without data": pl.Int64,
    "days met": pl.Int64,
    "first met": pl.Date,
    "levels (days)": pl.String,
    "positivity (min-max %)": pl.String,
}


def positivity_reads(
    rule: m.Rule, interps: dict[str, Decimal | bool | str]
) -> tuple[list[str], bool]:
    """The citywide positivity columns a rule reads under the readings ``interps`` (following
    each ``choose`` and ``pick``), and whether it reads one of them through a trend (its daily
    rises)."""
    node = rule.when if rule.when is not None else rule.classify
    if node is None:
        return [], False
    read = sorted(metrics_read(node, interps) & set(POSITIVITY_COLUMNS))
    return read, bool(trends_read(node, interps) & set(POSITIVITY_COLUMNS))


def defaults(policy: m.Policy) -> dict[str, Decimal | bool | str]:
    """The policy's interpretation defaults (the readings a backtest applies)."""
    return {name: spec.default for name, spec in policy.interpretations.items()}


def _applies(policy: m.Policy, rule: m.Rule, days: pl.DataFrame) -> pl.Series:
    """Whether the rule applies on each of ``days``' dates (sorted): every parameter it reads
    has a value in force that day (a parameter ended by ``null``, or not yet begun, makes the
    rule stop applying)."""
    names = sorted({n.param for n in walk(rule) if isinstance(n, m.ParamRef)})
    out = days.select("date")
    for name in names:
        values = policy.parameters[name].values
        changes = pl.DataFrame(
            {
                "_from": [v.from_ for v in values],
                f"_has.{name}": [v.value is not None for v in values],
            },
            schema={"_from": pl.Date, f"_has.{name}": pl.Boolean},
        ).sort("_from")
        out = out.join_asof(changes, left_on="date", right_on="_from").drop("_from")
    return out.select(
        pl.all_horizontal(pl.lit(True), *(pl.col(f"_has.{n}").fill_null(False) for n in names))
    ).to_series()


def positivity_rules(backtest: Backtest) -> pl.DataFrame:
    """One row per policy, rule reading citywide test positivity and series its positivity came
    from (``positivity_basis``: daily by test, or derived from the weekly ZIP-code tests), over
    the days of the period the policy is in force (all of them with ``--counterfactual``) and
    the rule applies (every parameter it reads has a value), under the default readings:
    first and last day, days, days the rule had no data (its positivity missing, or, for a
    rule on daily rises, derived that day or the day before: a weekly value shows no daily
    change), days its trigger was met and the first (a trigger rule; at school scope, any
    school), the days at each level (a level rule; at school scope, the first school's: every
    school reads the same citywide figures), and the range of the positivity it reads. A policy
    not in force on any day of the period has one row, series ``not in force``; a rule that
    applies on no day, one row saying so."""
    district = backtest.inputs.get("district")
    rows: list[dict[str, object]] = []
    if district is None or "positivity_basis" not in district.columns:
        return pl.DataFrame(schema=POSITIVITY_RULES_SCHEMA)
    period = district.filter(pl.col("date").is_between(backtest.start, backtest.end))
    before = district.select(
        (pl.col("date") + pl.duration(days=1)).alias("date"),
        *(
            pl.col(c + DERIVED_FLAG).alias(c + DERIVED_FLAG + "_before")
            for c in POSITIVITY_COLUMNS
            if c + DERIVED_FLAG in district.columns
        ),
    )
    period = period.join(before, on="date", how="left")
    for run in backtest.runs:
        used = counterfactual(run.policy, backtest.start) if backtest.counterfactual else run.policy
        for rule in run.policy.rules:
            read, trend = positivity_reads(rule, defaults(run.policy))
            read = [c for c in read if c in period.columns]
            if read:
                rows += _rule_rows(run, used, rule, read, trend, period)
    return pl.DataFrame(rows, schema=POSITIVITY_RULES_SCHEMA, orient="row")


def _rule_rows(
    run: PolicyRun,
    used: m.Policy,
    rule: m.Rule,
    read: list[str],
    trend: bool,
    period: pl.DataFrame,
) -> list[dict[str, object]]:
    """:func:`positivity_rules`' rows of one rule reading the positivity columns ``read``
    (``trend``: through a trend) on the district frame's days of the period (``period``, with
    each derived flag of the day before as ``<flag>_before``); ``used``: the policy as applied
    (its parameters back-dated in a counterfactual)."""
    rows: list[dict[str, object]] = []
    base: dict[str, object] = {
        "policy": run.policy.id,
        "rule": rule.id,
        "reads": ", ".join(read),
        "kind": "trend" if trend else ("level" if rule.classify is not None else "threshold"),
    }
    result = run.results.get(rule.scope.value)
    if result is None or result.height == 0:
        return [{**base, "series": f"not evaluated (no {rule.scope.value} units)"}]
    in_force = (
        result.filter(pl.col("mode").cast(pl.String) != NOT_IN_FORCE)
        .sort("unit", "date")
        .group_by("date")
        .agg(
            *(
                [pl.col(f"trigger.{rule.id}").any().alias("met")]
                if f"trigger.{rule.id}" in result.columns
                else []
            ),
            *(
                [pl.col(f"level.{rule.id}").first().alias("level")]
                if f"level.{rule.id}" in result.columns
                else []
            ),
        )
    )
    days = period.join(in_force, on="date", how="inner").sort("date")
    if days.height == 0:
        return [{**base, "series": "not in force", "days": 0}]
    days = days.filter(_applies(used, rule, days))
    if days.height == 0:
        return [{**base, "series": "does not apply (a parameter it reads has no value)", "days": 0}]
    missing = pl.any_horizontal(pl.col(c).is_null() for c in read)
    if trend:
        flags = [
            pl.col(name).fill_null(0) != 0
            for c in read
            for name in (c + DERIVED_FLAG, c + DERIVED_FLAG + "_before")
            if name in days.columns
        ]
        if flags:
            missing = missing | pl.any_horizontal(flags)
    days = days.with_columns(
        missing.alias("_missing"),
        pl.col("positivity_basis").fill_null("").alias("_basis"),
    )
    for basis, part in days.sort("date").group_by("_basis", maintain_order=True):
        name = str(basis[0])
        met = (
            part.filter(pl.col("met"))["date"]
            if "met" in part.columns
            else pl.Series([], dtype=pl.Date)
        )
        levels = (
            part.filter(pl.col("level").is_not_null()).group_by("level", maintain_order=True).len()
            if "level" in part.columns
            else None
        )
        lo, hi = part.select(
            pl.col(read[0]).cast(pl.Float64).min().alias("lo"),
            pl.col(read[0]).cast(pl.Float64).max().alias("hi"),
        ).row(0)
        rows.append(
            {
                **base,
                "series": BASIS_WORDS.get(name, "no positivity"),
                "first": part["date"].min(),
                "last": part["date"].max(),
                "days": part.height,
                "days without data": int(part["_missing"].sum()),
                "days met": met.len() if "met" in part.columns else None,
                "first met": met.min() if met.len() else None,
                "levels (days)": None
                if levels is None
                else ", ".join(f"{lv} {n}" for lv, n in levels.iter_rows()),
                "positivity (min-max %)": (
                    f"{lo:.1f}-{hi:.1f}"
                    if isinstance(lo, float) and isinstance(hi, float)
                    else None
                ),
            }
        )
    return rows

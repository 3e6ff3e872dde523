"""No silent defaults: what a decision's ``no_data`` unit-days lacked.

A unit-day is ``no_data`` when a rule lacked a reading it needs and no rule applied
(``engine.evaluate``); this module names the missing readings and where their series end
(``metrics.coverage``) in the unit-day's explanation, and counts per rule and day the units
without their data (``schoolmode decide`` prints them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from schoolmode.engine.evaluate import Evaluation
from schoolmode.engine.grid import DERIVED_SUFFIX
from schoolmode.engine.nodes import metrics_read, trends_read
from schoolmode.engine.words import long_date, metric_words
from schoolmode.metrics.coverage import describe

NO_DATA = "no_data"


@dataclass(frozen=True)
class NoData:
    """On ``date``, ``units`` of the ``of_units`` units of ``scope`` had no data for ``rule``
    (``missing``: the metrics it reads that had none) and were stored as ``no_data``."""

    scope: str
    rule: str
    date: dt.date
    units: int
    of_units: int
    missing: list[str]
    weekly: list[str] = field(default_factory=list)
    """Metrics whose daily change the rule reads that came from weekly figures."""

    def render(self) -> str:
        why = [f"no {', '.join(map(describe, self.missing))}"] if self.missing else []
        if self.weekly:
            why.append(
                f"{', '.join(map(describe, self.weekly))} from weekly figures, no daily change"
            )
        return (
            f"{self.units} of {self.of_units} {self.scope} units have no data for rule "
            f"{self.rule} on {self.date} ({'; '.join(why)}): stored as no_data"
        )


def rule_trends(evaluation: Evaluation) -> dict[str, dict[str, set[str]]]:
    """scope -> rule id -> the metrics whose daily changes the rule reads (a ``trend``): a
    unit-day whose value of one of them is derived from a weekly series that day or the day
    before lacks the change, with no rule applying, is ``no_data``."""
    out: dict[str, dict[str, set[str]]] = {}
    for rule in evaluation.policy.rules:
        if rule.when is not None:
            reads = trends_read(rule.when, evaluation.interpretations)
            out.setdefault(rule.scope.value, {})[rule.id] = reads
    return out


def rule_inputs(evaluation: Evaluation) -> dict[str, dict[str, set[str]]]:
    """scope -> rule id -> the metrics the rule reads at its scope (the interpretations
    chosen): a unit-day lacking one of them, with no rule applying, is ``no_data``."""
    out: dict[str, dict[str, set[str]]] = {}
    for rule in evaluation.policy.rules:
        node = rule.when if rule.when is not None else rule.classify
        if node is None:
            continue
        reads = metrics_read(node, evaluation.interpretations)
        out.setdefault(rule.scope.value, {})[rule.id] = reads
    return out


def no_data_report(
    evaluation: Evaluation,
    frames: Mapping[str, pl.DataFrame],
    rows: pl.DataFrame,
    last_days: Mapping[str, dt.date | None],
) -> tuple[pl.DataFrame, list[NoData]]:
    """For the ``no_data`` rows of ``rows`` (``decisions.record.decision_frame``): their
    explanations (scope, unit, date, explanation), naming each missing reading and where its
    series ends (``last_days``: :func:`~schoolmode.metrics.coverage.metric_ends`), and per rule
    and day how many units had no data for it."""
    texts: list[pl.DataFrame] = []
    counts: list[NoData] = []
    trends = rule_trends(evaluation)
    for scope, inputs in rule_inputs(evaluation).items():
        decided = rows.filter(pl.col("scope") == scope)
        blind = decided.filter(pl.col("mode") == NO_DATA).select("unit", "date")
        inputs = {rule: needs for rule, needs in inputs.items() if needs}
        if blind.height == 0 or not inputs:
            continue
        reads = sorted(set().union(*inputs.values()))
        frame = frames.get(scope)
        present = [] if frame is None else [c for c in reads if c in frame.columns]
        flagged = [
            n
            for n in sorted(set().union(*trends.get(scope, {}).values()))
            if n in present and frame is not None and n + DERIVED_SUFFIX in frame.columns
        ]
        if frame is not None:
            # a mode rests on the readings of the day before (a trigger takes effect after
            # its notice) and of the day itself (the next day's): either missing counts
            readings = frame.select(
                "unit", "date", *present, *(n + DERIVED_SUFFIX for n in flagged)
            )
            before = readings.with_columns(pl.col("date") + pl.duration(days=1))
            blind = blind.join(readings, on=["unit", "date"], how="left").join(
                before, on=["unit", "date"], how="left", suffix="_before"
            )
        blind = blind.with_columns(
            (
                pl.col(n).is_null() | pl.col(f"{n}_before").is_null()
                if n in present
                else pl.lit(True)
            ).alias(f"_missing.{n}")
            for n in reads
        ).with_columns(
            # a trend's metric derived from a weekly series that day or the day before
            (
                (pl.col(n + DERIVED_SUFFIX).fill_null(0) != 0)
                | (pl.col(f"{n}{DERIVED_SUFFIX}_before").fill_null(0) != 0)
            ).alias(f"_derived.{n}")
            for n in flagged
        )
        blind = blind.with_columns(
            pl.any_horizontal(
                *(pl.col(f"_missing.{n}") for n in sorted(needs)),
                *(
                    pl.col(f"_derived.{n}")
                    for n in sorted(trends.get(scope, {}).get(rule, set()))
                    if n in flagged
                ),
            ).alias(f"_blind.{rule}")
            for rule, needs in inputs.items()
        )
        days = blind.get_column("date").unique().to_list()
        blind = blind.with_columns(
            pl.col("date")
            .replace_strict({d: long_date(d.isoformat()) for d in days}, return_dtype=pl.String)
            .alias("_long_date")
        )
        texts.append(
            blind.select(
                pl.lit(scope).alias("scope"),
                "unit",
                "date",
                _explanation(evaluation, scope, inputs, last_days, flagged).alias("explanation"),
            )
        )
        counts += _counts(scope, decided, blind, inputs, flagged)
    schema = {"scope": pl.String, "unit": pl.String, "date": pl.Date, "explanation": pl.String}
    explained = pl.concat(texts) if texts else pl.DataFrame(schema=schema)
    return explained, counts


def _explanation(
    evaluation: Evaluation,
    scope: str,
    inputs: Mapping[str, set[str]],
    last_days: Mapping[str, dt.date | None],
    derived: list[str] | None = None,
) -> pl.Expr:
    """The explanation of a ``no_data`` unit-day, written for a parent (no rule or metric ids):
    which figures the rules need that the data do not have, where each one's data end, which
    come from weekly figures where a rule needs their daily changes (``derived``), the rules
    (by title) that could not be applied, and that no mode is decided."""
    titles = {r.id: r.title for r in evaluation.policy.rules}
    names = sorted(set().union(*inputs.values()))
    ends: dict[dt.date | None, list[str]] = {}
    for name in names:
        ends.setdefault(last_days.get(name), []).append(name)
    clauses = []
    for end, group in sorted(ends.items(), key=lambda kv: (kv[0] is None, kv[0] or dt.date.min)):
        words = pl.concat_list(
            [pl.when(pl.col(f"_missing.{n}")).then(pl.lit(metric_words(n))) for n in group]
        ).list.drop_nulls()
        where = (
            f" (the data end on {long_date(end.isoformat())})"
            if end is not None
            else " (none are stored)"
        )
        clauses.append(
            pl.when(words.list.len() > 0).then(pl.concat_str(words.list.join(", "), pl.lit(where)))
        )
    rules = pl.concat_list(
        [pl.when(pl.col(f"_blind.{r}")).then(pl.lit(f'"{titles[r]}"')) for r in inputs]
    ).list.drop_nulls()
    default = evaluation.policy.modes[0].label
    missing = pl.concat_list(clauses).list.drop_nulls()
    weekly = pl.concat_list(
        [pl.when(pl.col(f"_derived.{n}")).then(pl.lit(metric_words(n))) for n in derived or []]
        or [pl.lit(None, dtype=pl.String)]
    ).list.drop_nulls()
    reasons = pl.concat_list(
        pl.when(missing.list.len() > 0).then(
            pl.concat_str(
                pl.lit("figures its rules need are missing that day or the day before: "),
                missing.list.join("; "),
            )
        ),
        pl.when(weekly.list.len() > 0).then(
            pl.concat_str(
                weekly.list.join(", "),
                pl.lit(
                    " came from weekly figures that day or the day before, and a weekly figure "
                    "shows no rise or fall from one day to the next"
                ),
            )
        ),
    ).list.drop_nulls()
    return pl.concat_str(
        pl.lit(f"No mode is decided for {scope} "),
        pl.col("unit"),
        pl.lit(" on "),
        pl.col("_long_date"),
        pl.lit(", because "),
        reasons.list.join("; and "),
        pl.lit(". "),
        pl.when(rules.list.len() > 1)
        .then(pl.lit("These rules could not be applied: "))
        .otherwise(pl.lit("This rule could not be applied: ")),
        rules.list.join(", "),
        pl.lit(
            f'. The day is stored as "no data", not as "{default}". When the missing data are '
            "imported, deciding the day again gives its mode."
        ),
    )


def _counts(
    scope: str,
    decided: pl.DataFrame,
    blind: pl.DataFrame,
    inputs: Mapping[str, set[str]],
    derived: list[str] | None = None,
) -> list[NoData]:
    """Per rule and day: the units of ``blind`` without the rule's data, of all ``decided``
    (``derived``: the trends' metrics that have a ``_derived.<metric>`` column in ``blind``)."""
    derived = derived or []
    units = decided.group_by("date").agg(pl.len().alias("_of"))
    out = []
    for rule, needs in inputs.items():
        per_day = (
            blind.filter(pl.col(f"_blind.{rule}"))
            .group_by("date")
            .agg(
                pl.len().alias("_units"),
                *(pl.col(f"_missing.{n}").any().alias(n) for n in sorted(needs)),
                *(
                    pl.col(f"_derived.{n}").any().alias(f"_weekly.{n}")
                    for n in sorted(needs)
                    if n in derived
                ),
            )
            .join(units, on="date")
            .sort("date")
        )
        for row in per_day.iter_rows(named=True):
            out.append(
                NoData(
                    scope,
                    rule,
                    row["date"],
                    int(row["_units"]),
                    int(row["_of"]),
                    [n for n in sorted(needs) if row[n]],
                    [n for n in sorted(needs) if row.get(f"_weekly.{n}")],
                )
            )
    return out


def with_no_data_explanations(rows: pl.DataFrame, explained: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with the explanations of their ``no_data`` rows (:func:`no_data_report`)."""
    if explained.height == 0 or "explanation" not in rows.columns:
        return rows
    return (
        rows.join(
            explained.rename({"explanation": "_why"}),
            on=["scope", "unit", "date"],
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.coalesce("explanation", "_why").alias("explanation"))
        .drop("_why")
    )

"""No silent defaults: what a decision's ``no_data`` unit-days lacked.

A unit-day is ``no_data`` when a rule lacked a reading it needs and no rule applied
(``engine.evaluate``); this module names the missing readings and where their series end
(``metrics.coverage``) in the unit-day's explanation, and counts per rule and day the units
without their data (``schoolmode decide`` prints them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from schoolmode.engine.evaluate import Evaluation
from schoolmode.engine.nodes import metrics_read
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

    def render(self) -> str:
        return (
            f"{self.units} of {self.of_units} {self.scope} units have no data for rule "
            f"{self.rule} on {self.date} (no {', '.join(map(describe, self.missing))}): "
            "stored as no_data"
        )


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
    for scope, inputs in rule_inputs(evaluation).items():
        decided = rows.filter(pl.col("scope") == scope)
        blind = decided.filter(pl.col("mode") == NO_DATA).select("unit", "date")
        inputs = {rule: needs for rule, needs in inputs.items() if needs}
        if blind.height == 0 or not inputs:
            continue
        reads = sorted(set().union(*inputs.values()))
        frame = frames.get(scope)
        present = [] if frame is None else [c for c in reads if c in frame.columns]
        if frame is not None:
            # a mode rests on the readings of the day before (a trigger takes effect after
            # its notice) and of the day itself (the next day's): either missing counts
            readings = frame.select("unit", "date", *present)
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
            pl.any_horizontal(pl.col(f"_missing.{n}") for n in sorted(needs)).alias(
                f"_blind.{rule}"
            )
            for rule, needs in inputs.items()
        )
        texts.append(
            blind.select(
                pl.lit(scope).alias("scope"),
                "unit",
                "date",
                _explanation(evaluation, scope, inputs, last_days).alias("explanation"),
            )
        )
        counts += _counts(scope, decided, blind, inputs)
    schema = {"scope": pl.String, "unit": pl.String, "date": pl.Date, "explanation": pl.String}
    explained = pl.concat(texts) if texts else pl.DataFrame(schema=schema)
    return explained, counts


def _explanation(
    evaluation: Evaluation,
    scope: str,
    inputs: Mapping[str, set[str]],
    last_days: Mapping[str, dt.date | None],
) -> pl.Expr:
    """The plain-language explanation of a ``no_data`` unit-day: each missing reading, where
    its series ends, the rules it left unevaluated."""
    titles = {r.id: r.title for r in evaluation.policy.rules}
    day = pl.col("date").dt.to_string("%Y-%m-%d")
    missing = [
        pl.when(pl.col(f"_missing.{n}")).then(
            pl.concat_str(
                pl.lit(f"no {describe(n).removesuffix(' reported')} reported for "),
                day,
                pl.lit(" or the day before"),
                pl.lit(
                    f" (the data end on {last_days[n]})"
                    if last_days.get(n) is not None
                    else " (the store has none)"
                ),
            )
        )
        for n in sorted(set().union(*inputs.values()))
    ]
    rules = [pl.when(pl.col(f"_blind.{r}")).then(pl.lit(f"{r} ({titles[r]})")) for r in inputs]
    return pl.concat_str(
        pl.lit(f"No data for {scope} "),
        pl.col("unit"),
        pl.lit(" on "),
        day,
        pl.lit(": "),
        pl.concat_list(missing).list.drop_nulls().list.join("; "),
        pl.lit(". The rule(s) "),
        pl.concat_list(rules).list.drop_nulls().list.join(", "),
        pl.lit(
            " could not be evaluated, so no mode is decided: stored as no_data, not "
            f"{evaluation.policy.modes[0].id}. Import the missing data, then decide again."
        ),
    )


def _counts(
    scope: str, decided: pl.DataFrame, blind: pl.DataFrame, inputs: Mapping[str, set[str]]
) -> list[NoData]:
    """Per rule and day: the units of ``blind`` without the rule's data, of all ``decided``."""
    units = decided.group_by("date").agg(pl.len().alias("_of"))
    out = []
    for rule, needs in inputs.items():
        per_day = (
            blind.filter(pl.col(f"_blind.{rule}"))
            .group_by("date")
            .agg(
                pl.len().alias("_units"),
                *(pl.col(f"_missing.{n}").any().alias(n) for n in sorted(needs)),
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

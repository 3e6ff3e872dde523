"""What each policy would have done: days remote, pauses, triggers, disagreements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from schoolmode.backtest.run import Backtest
from schoolmode.engine.period import PolicyRun

IN_PERSON = {"in_person", "not_in_force", "no_data"}
"""Modes that keep students in buildings (the no-data and not-in-force days are not remote)."""


@dataclass(frozen=True)
class Spell:
    start: dt.date
    end: dt.date  # last day
    mode: str
    rule: str | None


def remote_flag(frame: pl.DataFrame) -> pl.Expr:
    return ~pl.col("mode").cast(pl.String).is_in(sorted(IN_PERSON))


def spells(frame: pl.DataFrame, unit: str) -> list[Spell]:
    """Consecutive days of one unit away from in-person learning."""
    rows = (
        frame.filter(pl.col("unit") == unit)
        .sort("date")
        .with_columns(
            remote_flag(frame).alias("_remote"), pl.col("mode").cast(pl.String).alias("_mode")
        )
    )
    out: list[Spell] = []
    current: list[dict[str, object]] = []
    for row in rows.iter_rows(named=True):
        if (
            row["_remote"]
            and current
            and (row["date"] - current[-1]["date"]).days == 1
            and row["_mode"] == current[-1]["_mode"]
        ):
            current.append(row)
            continue
        if current:
            out.append(_spell(current))
            current = []
        if row["_remote"]:
            current = [row]
    if current:
        out.append(_spell(current))
    return out


def _spell(rows: list[dict[str, object]]) -> Spell:
    first, last = rows[0], rows[-1]
    return Spell(first["date"], last["date"], str(first["_mode"]), first["rule"])  # type: ignore[arg-type]


def effective_school(
    run: PolicyRun, inputs: dict[str, pl.DataFrame] | None = None
) -> pl.DataFrame | None:
    """Schools' days with the district's state applied: a school is not in person on a day when
    either its own mode or the district's is not in person (a district pause closes every school).
    A policy with district rules only applies to the schools of the input frame."""
    school = run.results.get("school")
    district = run.results.get("district")
    if (
        (school is None or school.height == 0)
        and district is not None
        and district.height
        and inputs
        and "school" in inputs
    ):
        school = (
            inputs["school"]
            .select("unit", "date")
            .join(district.select("date"), on="date")
            .with_columns(pl.lit("in_person").alias("mode"))
        )
    if school is None or school.height == 0:
        return None
    flagged = school.with_columns(remote_flag(school).alias("remote"))
    if district is None or district.height == 0:
        return flagged
    paused = district.select("date", remote_flag(district).alias("district_remote"))
    return (
        flagged.join(paused, on="date", how="left")
        .with_columns(
            (pl.col("remote") | pl.col("district_remote").fill_null(False)).alias("remote")
        )
        .drop("district_remote")
    )


def headline(backtest: Backtest) -> pl.DataFrame:
    """One row per policy: the figures negotiators compare."""
    rows = []
    for run in backtest.runs:
        district = run.results.get("district")
        row: dict[str, object] = {
            "policy": run.policy.id,
            "kind": run.policy.kind,
            "district days remote": None,
            "district pauses": None,
            "first pause": None,
            "schools ever remote": None,
            "mean school days remote": None,
            "school-days eligible for remote": None,
            "classroom-days remote": None,
            "in-person student-days kept (%)": None,
            "rules not evaluated": len(run.not_evaluated),
        }
        if district is not None and district.height:
            pauses = spells(district, str(district["unit"][0]))
            row["district days remote"] = int(district.select(remote_flag(district).sum()).item())
            row["district pauses"] = len(pauses)
            row["first pause"] = pauses[0].start.isoformat() if pauses else None
        own = run.results.get("school")
        if own is not None and own.height:
            row["school-days eligible for remote"] = int(
                own.select(
                    pl.col("status").cast(pl.String).str.starts_with("eligible_for_").sum()
                ).item()
            )
        classroom = run.results.get("classroom")
        if classroom is not None and classroom.height:
            row["classroom-days remote"] = int(
                classroom.select(remote_flag(classroom).sum()).item()
            )
        school = effective_school(run, backtest.inputs)
        if school is not None and school.height:
            per_school = school.group_by("unit").agg(pl.col("remote").sum().alias("remote_days"))
            row["schools ever remote"] = int((per_school["remote_days"] > 0).sum())
            mean = per_school["remote_days"].mean()
            row["mean school days remote"] = (
                round(float(mean), 1) if isinstance(mean, int | float) else None
            )
            if "enrolled" in backtest.inputs.get("school", pl.DataFrame()).columns:
                enrol = backtest.inputs["school"].select("unit", "date", "enrolled")
                joined = school.join(enrol, on=["unit", "date"], how="left")
                total = float(joined["enrolled"].sum() or 0)
                kept = float(joined.filter(~pl.col("remote"))["enrolled"].sum() or 0)
                row["in-person student-days kept (%)"] = (
                    round(100 * kept / total, 1) if total else None
                )
        rows.append(row)
    return pl.DataFrame(rows, strict=False)


def disagreements(backtest: Backtest, scope: str = "district") -> pl.DataFrame:
    """Days on which two policies put the same unit in different modes, with the rules behind them."""
    frames = [(r.policy.id, r.results[scope]) for r in backtest.runs if scope in r.results]
    out = []
    for i, (a_id, a) in enumerate(frames):
        for b_id, b in frames[i + 1 :]:
            joined = a.select(
                "unit",
                "date",
                pl.col("mode").cast(pl.String).alias("mode_a"),
                pl.col("rule").cast(pl.String).alias("rule_a"),
            ).join(
                b.select(
                    "unit",
                    "date",
                    pl.col("mode").cast(pl.String).alias("mode_b"),
                    pl.col("rule").cast(pl.String).alias("rule_b"),
                ),
                on=["unit", "date"],
            )
            differ = joined.filter(
                pl.col("mode_a").is_in(sorted(IN_PERSON))
                != pl.col("mode_b").is_in(sorted(IN_PERSON))
            )
            if differ.height:
                out.append(
                    differ.with_columns(
                        pl.lit(a_id).alias("policy_a"), pl.lit(b_id).alias("policy_b")
                    )
                )
    if not out:
        return pl.DataFrame(
            schema={
                "policy_a": pl.String,
                "policy_b": pl.String,
                "unit": pl.String,
                "date": pl.Date,
                "mode_a": pl.String,
                "rule_a": pl.String,
                "mode_b": pl.String,
                "rule_b": pl.String,
            }
        )
    return pl.concat(out).select(
        "policy_a", "policy_b", "unit", "date", "mode_a", "rule_a", "mode_b", "rule_b"
    )


def run_by_id(backtest: Backtest, policy_id: str) -> PolicyRun:
    return next(r for r in backtest.runs if r.policy.id == policy_id)

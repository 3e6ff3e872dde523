"""What each policy would have done: days remote, pauses, triggers, disagreements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from schoolmode.backtest.run import Backtest
from schoolmode.engine.period import PolicyRun
from schoolmode.metrics.community import BY_TEST, DERIVED
from schoolmode.policy import model as m
from schoolmode.policy.walk import walk

NOT_IN_FORCE = "not_in_force"
"""The mode of a day outside the policy's term (without ``--counterfactual``)."""

NO_DATA = "no_data"
"""The mode of a day on which a policy's rules had no data to decide on."""

IN_PERSON = {"in_person", NOT_IN_FORCE, NO_DATA}
"""Modes that are not counted as remote (the no-data and not-in-force days are not remote; the
reports count the no-data days on their own)."""


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


def stretches(days: pl.Series) -> list[tuple[dt.date, dt.date]]:
    """(first, last) of each run of consecutive dates in ``days``."""
    out: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days.to_list()):
        if out and (day - out[-1][1]).days == 1:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def _spell(rows: list[dict[str, object]]) -> Spell:
    first, last = rows[0], rows[-1]
    return Spell(first["date"], last["date"], str(first["_mode"]), first["rule"])  # type: ignore[arg-type]


def no_data_flag(frame: pl.DataFrame) -> pl.Expr:
    """Days on which the policy's rules had no data to decide on (mode ``no_data``)."""
    return pl.col("mode").cast(pl.String) == NO_DATA


def effective_school(
    run: PolicyRun, inputs: dict[str, pl.DataFrame] | None = None
) -> pl.DataFrame | None:
    """Schools' days with the district's state applied: a school is not in person on a day when
    either its own mode or the district's is not in person (a district pause closes every school),
    and without data when it is in person and its own or the district's rules had no data. A
    policy with district rules only applies to the schools of the input frame. Columns ``unit``,
    ``date``, ``mode`` (the school's own), ``remote``, ``no_data`` and ``not_in_force`` (outside
    the policy's term, its own or the district's)."""
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
    flagged = school.with_columns(
        remote_flag(school).alias("remote"),
        no_data_flag(school).alias("no_data"),
        (pl.col("mode").cast(pl.String) == NOT_IN_FORCE).alias("not_in_force"),
    )
    if district is None or district.height == 0:
        return flagged
    state = district.select(
        "date",
        remote_flag(district).alias("district_remote"),
        no_data_flag(district).alias("district_no_data"),
        (pl.col("mode").cast(pl.String) == NOT_IN_FORCE).alias("district_not_in_force"),
    )
    return (
        flagged.join(state, on="date", how="left")
        .with_columns(
            (pl.col("remote") | pl.col("district_remote").fill_null(False)).alias("remote"),
        )
        .with_columns(
            (
                ~pl.col("remote")
                & (pl.col("no_data") | pl.col("district_no_data").fill_null(False))
            ).alias("no_data"),
            (
                ~pl.col("remote")
                & (pl.col("not_in_force") | pl.col("district_not_in_force").fill_null(False))
            ).alias("not_in_force"),
        )
        .drop("district_remote", "district_no_data", "district_not_in_force")
    )


SCHOOL_DAYS_SCHEMA = {
    "policy": pl.String,
    "unit": pl.String,
    "days not in person": pl.Int64,
    "days without data": pl.Int64,
}


def school_days(backtest: Backtest) -> pl.DataFrame:
    """One row per policy and school: the calendar days the school was not in person (its own
    mode or a district pause) and the days its policy had no data for. The headline's school
    columns and the school strip are both computed from this frame."""
    parts = []
    for run in backtest.runs:
        school = effective_school(run, backtest.inputs)
        if school is None or school.height == 0:
            continue
        parts.append(
            school.group_by("unit")
            .agg(
                pl.col("remote").sum().cast(pl.Int64).alias("days not in person"),
                pl.col("no_data").sum().cast(pl.Int64).alias("days without data"),
            )
            .select(
                pl.lit(run.policy.id).alias("policy"),
                pl.col("unit").cast(pl.String),
                "days not in person",
                "days without data",
            )
            .sort("unit")
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=SCHOOL_DAYS_SCHEMA)


DAILY_SCHEMA = {
    "policy": pl.String,
    "date": pl.Date,
    "units": pl.Int64,
    "share not in person": pl.Float64,
    "share without data": pl.Float64,
    "share not in force": pl.Float64,
    "citywide data missing": pl.Boolean,
}


def reads(policy: m.Policy, metric: str) -> bool:
    """Whether a rule of ``policy`` reads ``metric`` (in any node)."""
    return any(
        isinstance(node, m.MetricOp) and node.metric == metric
        for rule in policy.rules
        for node in walk(rule)
    )


def citywide_missing(backtest: Backtest, policy: m.Policy) -> pl.DataFrame:
    """``date``, ``citywide data missing``: whether a citywide series (``SERIES``) the policy
    reads has no value that day, so its rules on it cannot be met (a threshold on a missing
    value is false) or have no level."""
    district = backtest.inputs.get("district")
    read = [
        c for c in SERIES if district is not None and c in district.columns and reads(policy, c)
    ]
    axis = pl.DataFrame({"date": pl.date_range(backtest.start, backtest.end, "1d", eager=True)})
    if district is None or not read:
        return axis.with_columns(pl.lit(False).alias("citywide data missing"))
    known = district.select("date", *read)
    return axis.join(known, on="date", how="left").select(
        "date", pl.any_horizontal(pl.col(read).is_null()).alias("citywide data missing")
    )


def daily(backtest: Backtest) -> pl.DataFrame:
    """One row per policy and day: the share of schools not in person (a district pause counts
    every school), the share whose policy had no data that day (for a policy without schools,
    the district: one unit), the share outside its term (without ``--counterfactual``) and whether a
    citywide series it reads was missing while it was in force (:func:`citywide_missing`). The
    timeline plots this frame."""
    parts = []
    for run in backtest.runs:
        frame = effective_school(run, backtest.inputs)
        if frame is None:
            district = run.results.get("district")
            if district is None or district.height == 0:
                continue
            frame = district.with_columns(
                remote_flag(district).alias("remote"),
                no_data_flag(district).alias("no_data"),
                (pl.col("mode").cast(pl.String) == NOT_IN_FORCE).alias("not_in_force"),
            )
        parts.append(
            frame.group_by("date")
            .agg(
                pl.len().cast(pl.Int64).alias("units"),
                pl.col("remote").mean().cast(pl.Float64).alias("share not in person"),
                pl.col("no_data").mean().cast(pl.Float64).alias("share without data"),
                pl.col("not_in_force").mean().cast(pl.Float64).alias("share not in force"),
            )
            .join(citywide_missing(backtest, run.policy), on="date", how="left")
            .with_columns(  # outside its term a policy reads nothing
                pl.col("citywide data missing").fill_null(False)
                & (pl.col("share not in force") < 0.5)
            )
            .select(pl.lit(run.policy.id).alias("policy"), "*")
            .select(list(DAILY_SCHEMA))
            .sort("date")
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=DAILY_SCHEMA)


SERIES = {
    "positivity_7d_pct": "CDPH test positivity",
    "positivity_14d_pct": "CDPH test positivity",
    "cases_per_100k_7d": "CDPH cases",
    "cases_per_100k_14d": "CDPH cases",
}
"""The citywide series of the district frame, by column: the name a reader knows them by."""


def coverage(backtest: Backtest) -> pl.DataFrame:
    """One row per citywide series (``SERIES``): its columns, first and last day with data within
    the backtest's period. A series without data in the period has no first or last day."""
    district = backtest.inputs.get("district")
    rows: dict[str, dict[str, object]] = {}
    if district is not None:
        period = district.filter(pl.col("date").is_between(backtest.start, backtest.end))
        for column, series in SERIES.items():
            if column not in period.columns:
                continue
            known = period.filter(pl.col(column).is_not_null())["date"]
            first, last = (known.min(), known.max()) if known.len() else (None, None)
            row = rows.setdefault(
                series, {"series": series, "columns": [], "first": first, "last": last}
            )
            row["columns"].append(column)  # type: ignore[attr-defined]
            if first is not None and (row["first"] is None or first < row["first"]):  # type: ignore[operator]
                row["first"] = first
            if last is not None and (row["last"] is None or last > row["last"]):  # type: ignore[operator]
                row["last"] = last
    basis = _positivity_basis(district, backtest) if district is not None else None
    return pl.DataFrame(
        [
            {
                **r,
                "columns": ", ".join(r["columns"]),  # type: ignore[arg-type]
                "source": basis if r["series"] == POSITIVITY and basis else SOURCE[r["series"]],  # type: ignore[index]
            }
            for r in rows.values()
        ],
        schema={
            "series": pl.String,
            "columns": pl.String,
            "first": pl.Date,
            "last": pl.Date,
            "source": pl.String,
        },
        orient="row",
    )


POSITIVITY = "CDPH test positivity"
SOURCE = {
    POSITIVITY: "CDPH daily tests, by test (cdph-daily-testing)",
    "CDPH cases": "CDPH daily cases (cdph-daily-cases)",
}
"""Where each citywide series comes from, as the coverage table says."""


def _positivity_basis(district: pl.DataFrame, backtest: Backtest) -> str | None:
    """Which series gave the positivity over the period, when part of it was derived from the
    ZIP weekly series (``metrics.community.derived_positivity``): the days of each."""
    if "positivity_basis" not in district.columns:
        return None
    period = district.filter(pl.col("date").is_between(backtest.start, backtest.end))
    derived: list[dt.date] = period.filter(pl.col("positivity_basis") == DERIVED)["date"].to_list()
    if not derived:
        return None
    by_test: list[dt.date] = period.filter(pl.col("positivity_basis") == BY_TEST)["date"].to_list()
    parts = []
    if by_test:
        parts.append(f"CDPH daily tests, by test, to {max(by_test).isoformat()}")
    parts.append(
        f"from {min(derived).isoformat()} derived from the ZIP weekly cases and tests (cdph-zip-weekly: "
        "the last complete week, cases per test times the by-test / by-person ratio; "
        "docs/metrics.md)"
    )
    return "; ".join(parts)


def ends(cover: pl.DataFrame, end: dt.date) -> list[tuple[dt.date, str]]:
    """(last day, label) of each series of ``cover`` that ends before ``end``: "CDPH test
    positivity ends 2021-11-24"."""
    return [
        (row["last"], f"{row['series']} ends {row['last'].isoformat()}")
        for row in cover.sort("last").iter_rows(named=True)
        if row["last"] is not None and row["last"] < end
    ]


def headline(backtest: Backtest, per_school: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per policy: the figures negotiators compare. The school columns are computed
    from ``per_school`` (:func:`school_days`, computed here when not given)."""
    per_school = school_days(backtest) if per_school is None else per_school
    rows = []
    for run in backtest.runs:
        district = run.results.get("district")
        row: dict[str, object] = {
            "policy": run.policy.id,
            "kind": run.policy.kind,
            "district days remote": None,
            "district days without data": None,
            "district pauses": None,
            "first pause": None,
            "schools ever remote": None,
            "mean school days remote": None,
            "mean school days without data": None,
            "school-days eligible for remote": None,
            "classroom-days remote": None,
            "student-days not in person": None,
            "in-person student-days kept (%)": None,
            "rules not evaluated": len(run.not_evaluated),
        }
        if district is not None and district.height:
            pauses = spells(district, str(district["unit"][0]))
            row["district days remote"] = int(district.select(remote_flag(district).sum()).item())
            row["district days without data"] = int(
                district.select(no_data_flag(district).sum()).item()
            )
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
        mine = per_school.filter(pl.col("policy") == run.policy.id)
        if mine.height:
            row["schools ever remote"] = int((mine["days not in person"] > 0).sum())
            row["mean school days remote"] = round(float(mine["days not in person"].mean()), 1)  # type: ignore[arg-type]
            row["mean school days without data"] = round(
                float(mine["days without data"].mean()),  # type: ignore[arg-type]
                1,
            )
        students = student_days(run, backtest.inputs)
        if students is not None:
            total, away = students
            row["student-days not in person"] = away
            row["in-person student-days kept (%)"] = (
                round(100 * (total - away) / total, 1) if total else None
            )
        rows.append(row)
    return pl.DataFrame(rows, strict=False)


def student_days(run: PolicyRun, inputs: dict[str, pl.DataFrame]) -> tuple[int, int] | None:
    """(enrolled student-days, student-days not in person) over the period: a school's enrolled
    students on each day it is not in person (its own mode or a district pause), plus, on the
    days their school is in person, the enrolled students of each classroom not in person. Both
    are over the school-days with data: a school-day without data (``no_data``, its own or the
    district's) is neither kept nor lost. None without enrolment in the inputs."""
    school = effective_school(run, inputs)
    if (
        school is None
        or school.height == 0
        or "enrolled" not in inputs.get("school", pl.DataFrame()).columns
    ):
        return None
    enrol = inputs["school"].select("unit", "date", "enrolled")
    joined = school.filter(~pl.col("no_data")).join(enrol, on=["unit", "date"], how="left")
    total = int(joined["enrolled"].sum() or 0)
    away = int(joined.filter(pl.col("remote"))["enrolled"].sum() or 0)
    classroom = run.results.get("classroom")
    rooms = inputs.get("classroom")
    if (
        classroom is not None
        and classroom.height
        and rooms is not None
        and {"parent", "enrolled"} <= set(rooms.columns)
    ):
        flipped = (
            classroom.filter(remote_flag(classroom))
            .select("unit", "date")
            .join(rooms.select("unit", "date", "parent", "enrolled"), on=["unit", "date"])
            .join(
                school.select(pl.col("unit").alias("parent"), "date", "remote", "no_data"),
                on=["parent", "date"],
                how="left",
            )
            .filter(~pl.col("remote").fill_null(False) & ~pl.col("no_data").fill_null(False))
        )
        away += int(flipped["enrolled"].sum() or 0)
    return total, away


def disagreements(backtest: Backtest, scope: str = "district") -> pl.DataFrame:
    """Days on which one policy puts a unit remote and another does not (in person, not in
    force or without data), with the rules behind them."""
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

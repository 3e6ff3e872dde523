"""Benchmark the policy engine.

    uv run python bench/bench_engine.py            # full run (a few minutes)
    uv run python bench/bench_engine.py --quick    # small version, seconds

(a) every shipped policy with school- or district-level rules over 655 schools and two
    school years of synthetic metrics (classroom teachers 20-120, enrolment 200-3000,
    absences, a citywide positivity series; weekends and holidays off);
(b) the school-level rules of ``cps-ctu-2022-01-10`` over 100,000 schools x 180 school
    days (252 calendar days), run in a child process so that its peak RSS is its own.

Each row compares the engine against (i) the per-row reference evaluator on a small
sample (throughput per unit-day) and (ii) a bare polars pass that only reads the same
input columns (a group_by/sum over every metric column the policy uses). Only public
tools are used: ``time.perf_counter`` and ``resource.getrusage`` (peak RSS).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bc  # timing, peak RSS, child processes, tables
from schoolmode.engine.grid import Calendar, date_bounds
from schoolmode.engine.reference import evaluate_reference
from schoolmode.engine.table import evaluate_table
from schoolmode.policy import model as m
from schoolmode.policy.loader import Registry
from schoolmode.policy.walk import children

GIB = 1024**3
LARGE_POLICY = "cps-ctu-2022-01-10"
FLOAT_HINTS = ("pct", "per_100k", "positivity", "rate")


@dataclass
class Row:
    scenario: str
    units: int
    days: int
    rows: int  # input rows (unit-days with data)
    engine_s: float
    bare_s: float
    reference_ud_per_s: float
    peak_rss: int  # bytes

    @property
    def unit_days(self) -> int:
        return self.units * self.days

    def cells(self) -> list[str]:
        engine_rate = self.unit_days / self.engine_s if self.engine_s else float("inf")
        return [
            self.scenario,
            f"{self.units:,}",
            f"{self.days:,}",
            f"{self.unit_days:,}",
            f"{self.rows:,}",
            f"{self.engine_s:.3f}",
            f"{engine_rate:,.0f}",
            f"{self.bare_s:.3f}",
            f"{self.engine_s / self.bare_s:.1f}x" if self.bare_s else "-",
            f"{self.reference_ud_per_s:,.0f}",
            f"{engine_rate / self.reference_ud_per_s:,.0f}x" if self.reference_ud_per_s else "-",
            f"{self.peak_rss / 2**20:,.0f}",
        ]


HEADER = [
    "scenario",
    "units",
    "calendar days",
    "unit-days",
    "input rows",
    "engine s",
    "engine unit-days/s",
    "bare polars s",
    "engine / bare",
    "reference unit-days/s",
    "engine / reference",
    "peak RSS MiB",
]


def table(rows: list[Row]) -> str:
    return bc.markdown_table(HEADER, (r.cells() for r in rows))


# ---------------------------------------------------------------------- inputs


def needs(policy: m.Policy) -> dict[str, set[str]]:
    """Scope -> metric columns the policy's rules read (share_of_units reads its child scope)."""
    out: dict[str, set[str]] = {}

    def visit(node: BaseModel, scope: str) -> None:
        if isinstance(node, m.MetricOp):
            out.setdefault(scope, set()).add(node.metric)
        if isinstance(node, m.ShareOfUnitsCond):
            visit(node.share_of_units.condition, node.share_of_units.scope.value)
            return
        for sub in children(node):
            visit(sub, scope)

    for rule in policy.rules:
        out.setdefault(rule.scope.value, set())
        visit(rule, rule.scope.value)
    return out


def school_calendar(
    start: dt.date, days: int, holidays_per_year: int
) -> tuple[Calendar, list[int]]:
    """Weekends off and a few holidays; returns the calendar and the school-day offsets."""
    rng = np.random.default_rng(7)
    weekdays = [i for i in range(days) if (start + dt.timedelta(i)).weekday() < 5]
    count = min(len(weekdays) // 5, holidays_per_year * max(1, days // 365))
    off = set(rng.choice(weekdays, size=count, replace=False).tolist()) if count else set()
    holidays = frozenset(start + dt.timedelta(int(i)) for i in off)
    return Calendar(holidays=holidays), [i for i in weekdays if i not in off]


def citywide(days: int, rng: np.random.Generator) -> dict[str, np.ndarray[Any, Any]]:
    t = np.arange(days)
    wave = 0.5 + 0.5 * np.sin(t / 40.0)
    pos = np.round(1.5 + 12 * wave**3 + rng.normal(0, 0.3, days).clip(-1, 1), 2)
    cases = np.round(20 + 600 * wave**4 + rng.normal(0, 5, days), 1).clip(0)
    return {"positivity": pos.clip(0.1), "cases": cases}


def metric_columns(
    names: set[str],
    unit_idx: np.ndarray[Any, Any],
    day_idx: np.ndarray[Any, Any],
    n_units: int,
    city: dict[str, np.ndarray[Any, Any]],
    seed: int,
) -> dict[str, np.ndarray[Any, Any]]:
    """Synthetic values with realistic ranges, one per (unit, day) row."""
    rng = np.random.default_rng(seed)
    n = unit_idx.size
    teachers = rng.integers(20, 121, n_units)[unit_idx]
    enrolled = rng.integers(200, 3001, n_units)[unit_idx]
    staff = rng.integers(30, 251, n_units)[unit_idx]
    pressure = (city["positivity"][day_idx] / 40.0).clip(0, 0.6)
    out: dict[str, np.ndarray[Any, Any]] = {}
    absent = rng.binomial(teachers, (pressure * rng.uniform(0.2, 1.6, n)).clip(0, 1))
    school_cases = rng.poisson(0.5 * pressure * 10)
    for name in sorted(names):
        if name == "classroom_teachers":
            out[name] = teachers.astype(np.int32)
        elif name == "covid_absent_teachers":
            out[name] = absent.astype(np.int32)
        elif name == "absences_covered_by_substitutes":
            out[name] = rng.binomial(absent, 0.5).astype(np.int32)
        elif name == "enrolled":
            out[name] = enrolled.astype(np.int32)
        elif name == "in_person_students":
            out[name] = (enrolled * rng.uniform(0.7, 1.0, n)).astype(np.int32)
        elif name == "students_quarantine_isolation":
            out[name] = rng.binomial(
                enrolled, (pressure * rng.uniform(0.1, 1.2, n)).clip(0, 1)
            ).astype(np.int32)
        elif name == "staff_total":
            out[name] = staff.astype(np.int32)
        elif name == "staff_isolation_quarantine":
            out[name] = rng.binomial(staff, (pressure * 0.5).clip(0, 1)).astype(np.int32)
        elif name == "school_cases":
            out[name] = school_cases.astype(np.int32)
        elif name == "household_linked_cases":
            out[name] = rng.binomial(school_cases, 0.4).astype(np.int32)
        elif "positivity" in name or name.endswith("_pct"):
            out[name] = city["positivity"][day_idx]
        elif "per_100k" in name:
            out[name] = city["cases"][day_idx]
        elif name in ("safety_committee_determination", "in_outbreak"):
            out[name] = (rng.random(n) < 0.01).astype(np.int32)
        elif name == "weekly_screening_testing":
            out[name] = (rng.random(n_units) < 0.5).astype(np.int32)[unit_idx]
        elif any(h in name for h in FLOAT_HINTS):
            out[name] = np.round(rng.uniform(0, 20, n), 2)
        else:
            out[name] = rng.poisson(1.0, n).astype(np.int32)
    return out


def school_frame(
    n_units: int,
    start: dt.date,
    school_days: list[int],
    metrics: set[str],
    city: dict[str, np.ndarray[Any, Any]],
    seed: int,
    *,
    attributes: bool = True,
) -> pl.DataFrame:
    """One row per school and school day (no rows on weekends and holidays)."""
    offsets = np.asarray(school_days, dtype=np.int64)
    unit_idx = np.repeat(np.arange(n_units), offsets.size)
    day_idx = np.tile(offsets, n_units)
    data: dict[str, Any] = {
        "_u": unit_idx.astype(np.int32),
        "date": np.datetime64(start, "D") + day_idx.astype("timedelta64[D]"),
    }
    if attributes:
        data["parent"] = np.full(unit_idx.size, "chicago")
        data["grade_band"] = np.array(["ES", "ES", "MS", "HS"])[unit_idx % 4]
    data.update(metric_columns(metrics, unit_idx, day_idx, n_units, city, seed))
    del unit_idx, day_idx
    frame = pl.DataFrame(data)
    del data
    return frame.select(
        pl.format("S{}", pl.col("_u").cast(pl.String).str.zfill(6)).alias("unit"),
        pl.col("date").cast(pl.Date),
        pl.exclude("_u", "date"),
    )


def district_frame(
    days: int, start: dt.date, metrics: set[str], city: dict[str, np.ndarray[Any, Any]]
) -> pl.DataFrame:
    day_idx = np.arange(days)
    columns = metric_columns(metrics, np.zeros(days, dtype=np.int64), day_idx, 1, city, 11)
    return pl.DataFrame(
        {
            "unit": ["chicago"] * days,
            "date": [start + dt.timedelta(i) for i in range(days)],
            **columns,
        }
    )


def shifted(frame: pl.DataFrame, by: int) -> pl.DataFrame:
    return frame.with_columns(pl.col("date") + pl.duration(days=by))


def bare_pass(frames: dict[str, pl.DataFrame], wanted: dict[str, set[str]]) -> float:
    t0 = time.perf_counter()
    for scope, names in wanted.items():
        if scope in frames:
            reads = pl.col(sorted(names)).sum() if names else pl.len()
            frames[scope].group_by("unit").agg(reads)
    return time.perf_counter() - t0


def reference_rate(
    policy: m.Policy, frames: dict[str, pl.DataFrame], calendar: Calendar, units: int, days: int
) -> float:
    """Unit-days per second of the reference evaluator on the first units and days."""
    sample: dict[str, pl.DataFrame] = {}
    first = min(f["date"].min() for f in frames.values())  # type: ignore[type-var]
    for scope, frame in frames.items():
        keep = sorted(frame["unit"].unique().to_list())[:units]
        sample[scope] = frame.filter(
            pl.col("unit").is_in(keep) & (pl.col("date") < pl.lit(first) + pl.duration(days=days))
        )
    t0 = time.perf_counter()
    out = evaluate_reference(policy, sample, calendar=calendar)
    elapsed = time.perf_counter() - t0
    cells = sum(f.height for f in out.values())
    return cells / elapsed if elapsed else 0.0


# ---------------------------------------------------------------------- scenarios


def shipped(quick: bool) -> list[Row]:
    n_schools, days = (20, 70) if quick else (655, 2 * 365 - 60)
    repeats = 1 if quick else 3
    ref_units, ref_days = (3, 20) if quick else (10, 60)
    registry = Registry()
    policies = []
    for pid in registry.ids():
        policy = registry.get(pid).policy
        if any(r.scope != m.Scope.classroom for r in policy.rules):
            policies.append(policy)
    wanted: dict[str, set[str]] = {"school": set(), "district": set()}
    for policy in policies:
        for scope, names in needs(policy).items():
            if scope in wanted:
                wanted[scope] |= names
    base_start = dt.date(2021, 8, 30)
    calendar, school_days = school_calendar(base_start, days, holidays_per_year=12)
    city = citywide(days, np.random.default_rng(3))
    school = school_frame(n_schools, base_start, school_days, wanted["school"], city, 5)
    district = district_frame(days, base_start, wanted["district"], city)
    rows: list[Row] = []
    for policy in policies:
        by = (policy.term.from_ - base_start).days - 14
        frames = {"school": shifted(school, by), "district": shifted(district, by)}
        cal = Calendar(holidays=frozenset(d + dt.timedelta(by) for d in calendar.holidays))
        use = needs(policy)
        frames = {
            s: f for s, f in frames.items() if s in use or (s == "school" and "district" in use)
        }
        engine_s = bc.median_time(partial(evaluate_table, policy, frames, calendar=cal), repeats)
        bare_s = bc.median_time(partial(bare_pass, frames, use), repeats)
        ref = reference_rate(policy, frames, cal, ref_units, ref_days)
        first, last = date_bounds(frames)
        units = sum(f["unit"].n_unique() for f in frames.values())
        rows.append(
            Row(
                f"(a) {policy.id}",
                units,
                (last - first).days + 1,
                sum(f.height for f in frames.values()),
                engine_s,
                bare_s,
                ref,
                bc.peak_rss(),
            )
        )
    total = Row(
        "(a) all shipped school/district policies",
        rows[0].units if rows else 0,
        rows[0].days if rows else 0,
        sum(r.rows for r in rows),
        sum(r.engine_s for r in rows),
        sum(r.bare_s for r in rows),
        0.0,
        bc.peak_rss(),
    )
    # per-unit-day rates over all policies: engine unit-days are summed per policy
    if rows:
        total.units = sum(r.units for r in rows)
        total.days = rows[0].days
        total.reference_ud_per_s = len(rows) / sum(1 / r.reference_ud_per_s for r in rows)
    return [*rows, total]


def large_child(n_schools: int, days: int) -> dict[str, Any]:
    """Run in a fresh process: build the frame, evaluate, report timings and peak RSS."""
    policy = Registry().get(LARGE_POLICY).policy
    policy = policy.model_copy(
        update={"rules": [r for r in policy.rules if r.scope == m.Scope.school]}
    )
    start = policy.term.from_ - dt.timedelta(days=policy.term.from_.weekday())  # a Monday
    calendar = Calendar()
    school_days = [i for i in range(days) if (start + dt.timedelta(i)).weekday() < 5]
    metrics = needs(policy)["school"]
    city = citywide(days, np.random.default_rng(3))
    frame = school_frame(n_schools, start, school_days, metrics, city, 9, attributes=False)
    rss_input = bc.peak_rss()
    repeats = 3 if n_schools >= 10_000 else 1
    engine_s = bc.median_time(
        lambda: evaluate_table(policy, {"school": frame}, calendar=calendar), repeats
    )
    bare_s = bc.median_time(lambda: bare_pass({"school": frame}, {"school": metrics}), repeats)
    return {
        "units": n_schools,
        "days": days,
        "rows": frame.height,
        "engine_s": engine_s,
        "bare_s": bare_s,
        "peak_rss": bc.peak_rss(),
        "rss_after_input": rss_input,
    }


def large(quick: bool) -> Row:
    n_schools, days = (1_000, 63) if quick else (100_000, 252)
    ref_units, ref_days = (5, 20) if quick else (50, 60)
    got = bc.run_child(__file__, "--child-large", str(n_schools), str(days))
    policy = Registry().get(LARGE_POLICY).policy
    policy = policy.model_copy(
        update={"rules": [r for r in policy.rules if r.scope == m.Scope.school]}
    )
    start = policy.term.from_ - dt.timedelta(days=policy.term.from_.weekday())
    school_days = [i for i in range(ref_days) if (start + dt.timedelta(i)).weekday() < 5]
    city = citywide(ref_days, np.random.default_rng(3))
    sample = school_frame(
        ref_units, start, school_days, needs(policy)["school"], city, 9, attributes=False
    )
    ref = reference_rate(policy, {"school": sample}, Calendar(), ref_units, ref_days)
    school_count = got["rows"] // n_schools
    large.rss_after_input = int(got["rss_after_input"])  # type: ignore[attr-defined]
    return Row(
        f"(b) {LARGE_POLICY} school rules, {n_schools:,} schools x {school_count} school days",
        got["units"],
        got["days"],
        got["rows"],
        got["engine_s"],
        got["bare_s"],
        ref,
        got["peak_rss"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small version that runs in seconds")
    parser.add_argument("--child-large", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_large:
        print(json.dumps(large_child(*args.child_large)))
        return 0
    rows = shipped(args.quick)
    big = large(args.quick)
    rows.append(big)
    print(table(rows))
    print()
    fits = big.peak_rss <= 4 * GIB
    print(
        f"(b) peak RSS {big.peak_rss / GIB:.2f} GiB for {big.rows:,} unit-days with data "
        f"({'within' if fits else 'OVER'} 4 GiB); building the input frame alone peaked at "
        f"{getattr(large, 'rss_after_input', 0) / GIB:.2f} GiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark the public releases (complementary suppression with its exact audit, period by
period, ``app/releases.py``) of the full synthetic district over its whole history.

    uv run python bench/bench_disclosure.py --db sqlite:///out/schoolmode.sqlite
    uv run python bench/bench_disclosure.py --db sqlite:////tmp/district.sqlite --day 2022-01-10

The store must hold the synthetic district (`scripts/run` builds the full one in
`out/schoolmode.sqlite`; so does `schoolmode init`, `import chicago` and `district synth
--observations --import`). Its exact school and district tables over the whole history are read
once (`app.metrics.exact_tables`'s school part, about 420,000 school days) and kept as Parquet in
``--cache`` (default: a folder under the system's temporary folder named after the store), so a
second run starts in seconds. Then, each in this process (nothing is stored):

(a) primary suppression alone of every day and week period of the history (counts 1 to 10
    hidden: no complement, no audit), what any release costs at least;
(b) the releases of every school day and every complete week of the history
    (`day_release`, `week_release`): primary, complementary, the audit to its fixed point;
(c) the **baseline** design this replaced, on the 28 days ending on ``--day``: one release of
    the schools' and the district's daily counts, their daily cases and the 14-day case counts
    (a trailing window relating each day to the 13 before), all at once; against (c') the
    period-by-period releases of the same 28 days;
(d) every week of those 28 days released again after a correction (one school's Monday + 1
    case), protected together with its first release (the earlier release in the model);
(e) an independent check of one day's release (``--day``): every protected cell audited
    alone (one or two integer programs per cell, one group at a time), none may be exposed.

Printed: a Markdown table (cells, hidden cells, seconds) and the ratios. Only public tools are
used: ``time.perf_counter``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # tables
from schoolmode.app.metrics import _school_tables
from schoolmode.app.releases import (
    DAY_COUNTS,
    WEEK_COUNTS,
    Earlier,
    day_relations,
    day_release,
    day_tables,
    week_release,
    week_tables,
)
from schoolmode.disclosure import SUPPRESSED, Cells, Release, Rule, rule_on, suppress
from schoolmode.disclosure.cells import _groups, _Model

DEFAULT_DB = "sqlite:///out/schoolmode.sqlite"


def exact(db: str, cache: Path) -> dict[str, pl.DataFrame]:
    """The exact school and district tables, from the cache when it has them."""
    files = {k: cache / f"{k}.parquet" for k in ("school", "district")}
    if all(f.exists() for f in files.values()):
        return {k: pl.read_parquet(f) for k, f in files.items()}
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tables = _school_tables(create_engine(db))
    print(f"read the exact tables from the store in {time.perf_counter() - t0:.1f} s")
    for k, f in files.items():
        tables[k].write_parquet(f)
    return {k: tables[k] for k in files}


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def hidden_in(out: dict[str, pl.DataFrame]) -> int:
    return sum(
        int(f[SUPPRESSED].str.split(",").list.len().fill_null(0).sum())
        for f in out.values()
        if SUPPRESSED in f.columns
    )


def periods(
    school: pl.DataFrame, first: dt.date, last: dt.date
) -> tuple[list[dict[str, pl.DataFrame]], list[dict[str, pl.DataFrame]]]:
    """The exact tables of every day and every complete week from ``first`` to ``last``."""
    cut = school.filter(pl.col("date").is_between(first, last))
    by_day = cut.partition_by("date", as_dict=True)
    days = [day_tables(by_day[k], k[0]) for k in sorted(by_day)]
    weeks = sorted({monday(d) for d in cut["date"].unique().to_list()})
    complete = [m for m in weeks if m >= first and m + dt.timedelta(days=6) <= last]
    return days, [week_tables(school, m) for m in complete]


def primary_only(
    days: list[dict[str, pl.DataFrame]], weeks: list[dict[str, pl.DataFrame]], rule: Rule
) -> tuple[int, int]:
    """(a): the cells from 1 to 10 of every period's tables; (cells, small)."""
    cells = small = 0
    for tables, counts in ((days, DAY_COUNTS), (weeks, WEEK_COUNTS)):
        for t in tables:
            for f in t.values():
                values = f.select(counts).to_numpy()
                cells += values.size
                small += int(((values >= rule.low) & (values <= rule.high)).sum())
    return cells, small


def released(
    days: list[dict[str, pl.DataFrame]], weeks: list[dict[str, pl.DataFrame]], rule: Rule
) -> tuple[int, int, list[str], list[dict[str, pl.DataFrame]]]:
    """(b), (c'): every period released; (cells, hidden, notes, the weeks' releases)."""
    cells = hidden = 0
    notes: list[str] = []
    firsts = []
    for t in days:
        out, n = day_release(t, rule)
        cells += sum(f.height for f in t.values()) * len(DAY_COUNTS)
        hidden += hidden_in(out)
        notes += n
    for t in weeks:
        out, n = week_release(t, rule)
        cells += sum(f.height for f in t.values())
        hidden += hidden_in(out)
        notes += n
        firsts.append(out)
    return cells, hidden, notes, firsts


def whole_window(
    school: pl.DataFrame, first: dt.date, last: dt.date, rule: Rule
) -> tuple[int, int]:
    """(c): the design before: one release of the cut's daily counts, daily cases and 14-day
    case counts (schools and the district); (cells, hidden)."""
    cut = school.filter(pl.col("date").is_between(first, last))
    counts = (*DAY_COUNTS, "school_cases", "school_cases_14d")
    s = cut.select("unit", "date", "parent", *counts)
    d = (
        s.group_by("date")
        .agg(*(pl.col(c).sum() for c in counts))
        .with_columns(pl.lit("district").alias("unit"))
    )
    rel = Release()
    rel.add("school", s, ("unit", "date"), counts)
    rel.add("district", d.select("unit", "date", *counts), ("unit", "date"), counts)
    for name in ("school", "district"):
        rel.across(name, "enrolled", ["students_quarantine_isolation"], rest="not_isolated")
        rel.across(name, "classroom_teachers", ["covid_absent_teachers"], rest="present")
        rel.across(name, "staff_total", ["staff_isolation_quarantine"], rest="staff_present")
        rel.across(name, "staff_total", ["classroom_teachers"], rest="other_staff")
        rel.lagged(name, "school_cases_14d", [("school_cases", k) for k in range(14)])
    rel.rollup("school", "district", counts)
    out = rel.apply(rule)
    return (s.height + d.height) * len(counts), hidden_in(out)


def corrected(
    weeks: list[dict[str, pl.DataFrame]],
    firsts: list[dict[str, pl.DataFrame]],
    school: pl.DataFrame,
    rule: Rule,
) -> tuple[int, int, list[str]]:
    """(d): each week again after one school's Monday + 1 case, with its first release."""
    cells = hidden = 0
    notes: list[str] = []
    unit = school["unit"].sort()[0]
    for t, first in zip(weeks, firsts, strict=True):
        m = t["district_week"]["date"][0]
        fixed = school.with_columns(
            pl.when((pl.col("unit") == unit) & (pl.col("date") == m))
            .then(pl.col("school_cases") + 1)
            .otherwise(pl.col("school_cases"))
            .alias("school_cases")
        )
        now = week_tables(fixed, m)
        out, n = week_release(now, rule, earlier=Earlier(published=first, exact=t))
        cells += sum(f.height for f in now.values())
        hidden += hidden_in(out)
        notes += n
    return cells, hidden, notes


def release_cells(t: dict[str, pl.DataFrame], rule: Rule) -> tuple[Cells, np.ndarray]:
    """A day's cells as its release builds them, and their hidden mask (for (e))."""
    cells = day_relations(t).cells()
    return cells, suppress(cells, rule)


def per_cell_audit(cells: Cells, hidden: np.ndarray, rule: Rule) -> tuple[int, int]:
    """(d): every protected unknown cell audited alone; (cells audited, exposed)."""
    small = (cells.values >= rule.low) & (cells.values <= rule.high)
    unknown = hidden | ~cells.published
    lower = np.where(hidden, 1, 0).astype(np.int64)
    audited = exposed = 0
    for members, rows in _groups(cells, unknown):
        targets = [c for c in members if hidden[c] or small[c]]
        if not targets:
            continue
        model = _Model(cells.values, lower, members, rows)
        for t in targets:
            k = model.column[t]
            audited += 1
            if not model.pushed([k], np.ones(1)) and not model.pushed([k], -np.ones(1)):
                exposed += 1
    return audited, exposed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2022, 1, 30))
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args(argv)
    digest = hashlib.sha256(args.db.encode()).hexdigest()[:12]
    cache = args.cache or Path(tempfile.gettempdir()) / f"schoolmode-bench-disclosure-{digest}"
    school = exact(args.db, cache)["school"]
    rule = rule_on(args.day)
    first, last = school["date"].min(), school["date"].max()
    assert isinstance(first, dt.date)
    assert isinstance(last, dt.date)
    days, weeks = periods(school, first, last)
    rows: list[tuple[str, int, int, float, str]] = []
    t0 = time.perf_counter()
    cells, small = primary_only(days, weeks, rule)
    primary = time.perf_counter() - t0
    rows.append(
        (f"(a) primary only, {len(days)} days + {len(weeks)} weeks", cells, small, primary, "")
    )
    t0 = time.perf_counter()
    cells, hidden, notes, _ = released(days, weeks, rule)
    whole = time.perf_counter() - t0
    rows.append(
        (
            f"(b) releases, {len(days)} days + {len(weeks)} weeks",
            cells,
            hidden,
            whole,
            "; ".join(notes) or "none",
        )
    )
    start = args.day - dt.timedelta(days=27)
    cut_days, cut_weeks = periods(school, start, args.day)
    t0 = time.perf_counter()
    cells, hidden = whole_window(school, start, args.day, rule)
    baseline = time.perf_counter() - t0
    rows.append(
        (
            f"(c) baseline: one release of {start} to {args.day}, 14-day counts",
            cells,
            hidden,
            baseline,
            "",
        )
    )
    t0 = time.perf_counter()
    cells, hidden, notes, firsts = released(cut_days, cut_weeks, rule)
    by_period = time.perf_counter() - t0
    rows.append(
        (
            f"(c') releases of {start} to {args.day}, period by period",
            cells,
            hidden,
            by_period,
            "; ".join(notes) or "none",
        )
    )
    t0 = time.perf_counter()
    cells, hidden, notes = corrected(cut_weeks, firsts, school, rule)
    again = time.perf_counter() - t0
    rows.append(
        (
            f"(d) {len(cut_weeks)} weeks again after a correction, with the first release",
            cells,
            hidden,
            again,
            "; ".join(notes) or "none",
        )
    )
    day = day_tables(school.filter(pl.col("date") == args.day), args.day)
    cells_, mask = release_cells(day, rule)
    t0 = time.perf_counter()
    audited, exposed = per_cell_audit(cells_, mask, rule)
    took = time.perf_counter() - t0
    rows.append(
        (f"(e) per-cell audit of {args.day}'s release", audited, exposed, took, "exposed cells")
    )
    print(f"\nthe synthetic district, {first} to {last}, rule {rule.id}\n")
    print(
        bc.markdown_table(
            ["scenario", "cells", "hidden", "seconds", "notes"],
            [(a, f"{b:,}", f"{c:,}", f"{d:.2f}", e) for a, b, c, d, e in rows],
        )
    )
    print(
        f"\nthe 28 days: one release (baseline) / period by period: {baseline / by_period:.1f}x; "
        f"the whole history, releases / primary only: {whole / max(primary, 1e-9):.0f}x; "
        f"a correction's re-release / the first release of the weeks: "
        f"{again / max(by_period, 1e-9):.2f}x of (c')"
    )
    if exposed:
        raise SystemExit(f"{exposed} cells of the day's release exposed")


if __name__ == "__main__":
    main()

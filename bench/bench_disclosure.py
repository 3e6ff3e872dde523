"""Benchmark the public release (complementary suppression with its exact audit) of the full
synthetic district: the school and district tables of one day and of a 14-day window.

    uv run python bench/bench_disclosure.py --db sqlite:///out/schoolmode.sqlite
    uv run python bench/bench_disclosure.py --db sqlite:////tmp/district.sqlite --day 2022-01-10

The store must hold the synthetic district (`scripts/run` builds the full one in
`out/schoolmode.sqlite`; so does `schoolmode init`, `import chicago` and `district synth
--observations --import`). Its exact school and district tables over the whole history are read
once (`app.metrics.exact_tables`'s school part, about 420,000 school days) and kept as Parquet in
``--cache`` (default: a folder under the system's temporary folder named after the store), so a
second run starts in seconds. Then, each in this process, on the cut ending on ``--day``:

(a) the **baseline**: primary suppression alone (counts 1 to 10 hidden: no complement, no
    audit), what any release costs at least;
(b) the public release of the day (`app.metrics.school_release`): primary, complementary,
    the audit to its fixed point;
(c) the same for the 14 days ending on the day (the 14-day counts related to their days);
(d) an independent check of (b): every protected cell of the day's release audited alone (one
    or two integer programs per cell, one group at a time: the exact audit without its batched
    witnesses and without solving groups together), which must find none exposed, and its time.

Printed: a Markdown table (cells, hidden cells, seconds) and the ratios to the baseline. Only
public tools are used: ``time.perf_counter``.
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
from schoolmode.app.metrics import (
    SCHOOL_COUNTS,
    _school_tables,
    public_columns,
    release_of,
    school_release,
)
from schoolmode.disclosure import SUPPRESSED, Cells, Rule, rule_on, suppress
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


def cut(tables: dict[str, pl.DataFrame], day: dt.date, days: int) -> dict[str, pl.DataFrame]:
    first = day - dt.timedelta(days=days - 1)
    return {k: v.filter(pl.col("date").is_between(first, day)) for k, v in tables.items()}


def hidden_count(out: dict[str, pl.DataFrame]) -> int:
    return sum(
        int(f[SUPPRESSED].str.split(",").list.len().fill_null(0).sum()) for f in out.values()
    )


def primary_only(tables: dict[str, pl.DataFrame], rule: Rule) -> int:
    """(a): the cells from 1 to 10 of both tables, hidden; how many."""
    n = 0
    for f in tables.values():
        values = f.select(SCHOOL_COUNTS).to_numpy()
        n += int(((values >= rule.low) & (values <= rule.high)).sum())
    return n


def release_cells(tables: dict[str, pl.DataFrame], rule: Rule) -> tuple[Cells, np.ndarray]:
    """The cut's cells as the release builds them, and their hidden mask (for (d))."""
    school, district = public_columns(tables["school"], tables["district"])
    cells = release_of(school, district, history=False).cells()
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
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2022, 1, 10))
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args(argv)
    digest = hashlib.sha256(args.db.encode()).hexdigest()[:12]
    cache = args.cache or Path(tempfile.gettempdir()) / f"schoolmode-bench-disclosure-{digest}"
    tables = exact(args.db, cache)
    rule = rule_on(args.day)
    day, fortnight = cut(tables, args.day, 1), cut(tables, args.day, 14)
    size = {
        k: sum(f.height for f in t.values()) * len(SCHOOL_COUNTS)
        for k, t in (("day", day), ("14 days", fortnight))
    }
    rows = []
    timings: dict[str, float] = {}
    for name, t in (("day", day), ("14 days", fortnight)):
        t0 = time.perf_counter()
        n = primary_only(t, rule)
        timings[f"primary {name}"] = time.perf_counter() - t0
        rows.append(
            (f"(a) baseline: primary only, {name}", size[name], n, timings[f"primary {name}"], "")
        )
    for label, name, t in (("(b)", "day", day), ("(c)", "14 days", fortnight)):
        t0 = time.perf_counter()
        out, notes = school_release(t, rule, history=False)
        timings[name] = time.perf_counter() - t0
        rows.append(
            (
                f"{label} release, {name}",
                size[name],
                hidden_count(out),
                timings[name],
                "; ".join(notes) or "none",
            )
        )
    cells, hidden = release_cells(day, rule)
    t0 = time.perf_counter()
    audited, exposed = per_cell_audit(cells, hidden, rule)
    took = time.perf_counter() - t0
    rows.append(("(d) per-cell audit of (b)", audited, exposed, took, "exposed cells"))
    print(f"\nschool + district of {args.day} ({day['school'].height} schools), rule {rule.id}\n")
    print(
        bc.markdown_table(
            ["scenario", "cells", "hidden", "seconds", "notes"],
            [(a, str(b), str(c), f"{d:.2f}", e) for a, b, c, d, e in rows],
        )
    )
    print(
        f"\nrelease / primary only: day {timings['day'] / max(timings['primary day'], 1e-9):.0f}x, "
        f"14 days {timings['14 days'] / max(timings['primary 14 days'], 1e-9):.0f}x; "
        f"per-cell audit / the day's whole release: {took / timings['day']:.1f}x"
    )
    if exposed:
        raise SystemExit(f"{exposed} cells of the day's release exposed")


if __name__ == "__main__":
    main()

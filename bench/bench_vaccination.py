"""Benchmark the staff vaccination scheduler against a per-person Python loop.

    uv run python bench/bench_vaccination.py            # 40,000 staff, 52 weeks, 4 sites
    uv run python bench/bench_vaccination.py --quick    # 2,000 staff, 12 weeks (seconds)

Both schedulers take the same priority order (:func:`priority_order`), the same site-day
capacities and the policy's weekly first doses (``cps-ctu-2021-02-06``: 1,500) and 28-day
interval; the baseline walks the queue one person and one slot at a time (a heap of second
doses due). Their appointments must be identical (checked). Peak RSS is the process's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bc  # peak RSS
from schoolmode.operations import vaccination as v
from schoolmode.policy.loader import Registry

ROOT = Path(__file__).resolve().parents[1]
START = dt.date(2021, 2, 11)
SITES = {"Chicago Vocational": 200, "Clark": 150, "Clemente": 150, "Roosevelt": 100}


def staff_frame(n: int, seed: int = 2021) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    staff = pl.DataFrame(
        {
            "person_id": [f"S{i:06d}" for i in range(n)],
            "group": rng.choice(list(v.GROUP_ORDER), n),
            "age_years": rng.integers(22, 70, n),
            "own_high_risk": rng.random(n) < 0.05,
            "household_high_risk_unaccommodated": rng.random(n) < 0.03,
            "school_zip": rng.choice(["60623", "60629", "60601", "60614"], n),
        }
    )
    dosed = rng.random(n) < 0.1  # a tenth had a first dose in January
    records = pl.DataFrame(
        {
            "person_id": staff["person_id"].filter(pl.Series(dosed)),
            "dose": 1,
            "date": START - dt.timedelta(days=20),
            "product": "Moderna",
        }
    )
    return staff, records


def naive(
    staff: pl.DataFrame,
    rules: v.VaccinationRules,
    weeks: int,
    capacity: pl.DataFrame,
    records: pl.DataFrame,
) -> pl.DataFrame:
    """The same schedule, one person and one slot at a time."""
    people = v._doses_before(v.priority_order(staff, rules), records, START)
    caps: dict[tuple[int, str], int] = {}
    for r in capacity.iter_rows(named=True):
        caps[((r["date"] - START).days, r["site_id"])] = r["capacity"]
    sites = sorted({s for _, s in caps})
    heap: list[tuple[int, int, int, str]] = []  # (due day, 0 old / 1 new, sequence, person)
    firsts: list[str] = []
    seq = 0
    for r in people.iter_rows(named=True):
        if r["complete"]:
            continue
        if r["doses_before"] >= 1:
            due = (r["last_dose"] - START).days + rules.dose_interval_days
            heapq.heappush(heap, (due, 0, seq, r["person_id"]))
            seq += 1
        else:
            firsts.append(r["person_id"])
    out: list[tuple[str, int, dt.date, str, int]] = []
    next_first = 0
    given_this_week = 0
    for day in range(7 * weeks):
        if day % 7 == 0:
            given_this_week = 0
        date = START + dt.timedelta(days=day)
        for site in sites:
            for _ in range(caps.get((day, site), 0)):
                if heap and heap[0][0] <= day:
                    _, _, _, person = heapq.heappop(heap)
                    out.append((person, 2, date, site, day // 7))
                elif next_first < len(firsts) and given_this_week < rules.first_doses_per_week:
                    person = firsts[next_first]
                    next_first += 1
                    given_this_week += 1
                    out.append((person, 1, date, site, day // 7))
                    heapq.heappush(heap, (day + rules.dose_interval_days, 1, seq, person))
                    seq += 1
    return pl.DataFrame(
        out,
        schema={
            "person_id": pl.String,
            "dose": pl.Int64,
            "date": pl.Date,
            "site_id": pl.String,
            "week": pl.Int64,
        },
        orient="row",
    )


def _key(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("person_id", "dose")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2,000 staff, 12 weeks")
    parser.add_argument("--staff", type=int, default=40_000)
    parser.add_argument("--weeks", type=int, default=52)
    args = parser.parse_args(argv)
    n, weeks = (2_000, 12) if args.quick else (args.staff, args.weeks)
    rules = v.vaccination_rules(
        Registry(ROOT / "src" / "schoolmode" / "policies").get("cps-ctu-2021-02-06").policy, START
    )
    staff, records = staff_frame(n)
    sites = pl.DataFrame({"site_id": list(SITES), "daily_capacity": list(SITES.values())})
    capacity = v.site_days(sites, START, 7 * weeks)
    t0 = time.perf_counter()
    fast = v.schedule(staff, rules, START, weeks, capacity, records)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = naive(staff, rules, weeks, capacity, records)
    t_slow = time.perf_counter() - t0
    same = _key(fast.appointments).equals(_key(slow))
    rss = bc.peak_rss_mib()
    print(
        "| scheduler | staff | weeks | sites | appointments | seconds | vs per-person loop "
        "| same appointments | peak RSS MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for name, secs, rows in (
        ("vectorised (schedule)", t_fast, fast.appointments.height),
        ("per-person loop (baseline)", t_slow, slow.height),
    ):
        print(
            f"| {name} | {n:,} | {weeks} | {len(SITES)} | {rows:,} | {secs:.3f} | "
            f"{secs / t_slow:.3f}x | {'yes' if same else 'NO'} | {rss:,.0f} |"
        )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

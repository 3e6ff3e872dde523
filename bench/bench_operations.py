"""Benchmark the operations modules: contact tracing of a surge week, and one week's pooled
screening of the whole district.

    uv run python bench/bench_operations.py            # full run (Chicago-sized, minutes)
    uv run python bench/bench_operations.py --quick    # small version, seconds

Scenarios, in the synthetic district built from the CPS school profiles (full run: 321,254
students, 40,714 staff, 361,968 people, 184,711 households; quick run: the first 12 schools):

(a) **tracing**: every case of a surge week (Monday 2022-01-24, ``synth.surge.surge_cases``:
    3,000 cases full, 60 quick) traced by ``operations.tracing.trace`` (homeroom and household
    contacts, orders by the rules in force, merged orders, follow-up list) over the district's
    rosters of both school years (enrolment, staff assignment, person: about a million rows).
    **Baseline**, same run: a per-case loop that, for each case, filters the rosters for that
    case in polars and builds its contacts in Python, on an evenly spaced sample of cases;
    its per-case rate is scaled to all cases. Its contacts (case, person, setting, classroom,
    last exposure) are checked equal to the vectorised ones for the sampled cases.
(b) **pooled screening**: one week's pooled screening of every consented student
    (:func:`screening_week`: ``operations.pooling.assign_pools`` in pools of ``POOL_SIZE``,
    simulated pool and retest results, ``deconvolve``). **Baseline**, same run: a per-pool
    Python loop deciding each pool's members from the same results, on a sample of pools,
    scaled; its statuses are checked equal.

Consent share, pool size and prevalence are benchmark inputs (:data:`CONSENT_SHARE`,
:data:`POOL_SIZE`, :data:`PREVALENCE`), not policy numbers. Each scenario runs in a child
process so its peak RSS (``resource.getrusage``) is its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_engine as be  # median_time, peak_rss
from schoolmode.importers import shared_data_dir
from schoolmode.importers.cps import SchoolProfiles
from schoolmode.operations.pooling import assign_pools, deconvolve
from schoolmode.operations.tracing import Rosters, rules_in_force, trace
from schoolmode.policy.loader import Registry
from schoolmode.synth.district import SynthConfig, SyntheticDistrict, synth_district
from schoolmode.synth.observations import (
    ObservationConfig,
    district_rosters,
    school_days,
)
from schoolmode.synth.surge import surge_cases

WEEK = dt.date(2022, 1, 24)
CONSENT_SHARE = 0.6
"""Benchmark input: share of students consenting to screening."""
POOL_SIZE = 10
"""Benchmark input: Dorfman pool size."""
PREVALENCE = 0.02
"""Benchmark input: share of screened students who are positive that week."""
INVALID_SHARE = 0.01
"""Benchmark input: share of pools whose result is invalid."""


@dataclass
class Row:
    scenario: str
    items: int  # cases traced / students screened
    item_name: str
    roster_rows: int
    output_rows: int  # contacts / person statuses
    vectorised_s: float
    sample: int
    baseline_s: float
    same: bool
    peak_rss: int

    @property
    def rate(self) -> float:
        return self.items / self.vectorised_s if self.vectorised_s else float("inf")

    @property
    def baseline_rate(self) -> float:
        return self.sample / self.baseline_s if self.baseline_s else float("inf")

    def cells(self) -> list[str]:
        full = self.items / self.baseline_rate if self.baseline_rate else 0.0
        return [
            self.scenario,
            f"{self.items:,} {self.item_name}",
            f"{self.roster_rows:,}",
            f"{self.output_rows:,}",
            f"{self.vectorised_s:.2f}",
            f"{self.rate:,.0f}",
            f"{self.sample:,}",
            f"{self.baseline_s:.2f}",
            f"{self.baseline_rate:,.1f}",
            f"{self.rate / self.baseline_rate:,.0f}x" if self.baseline_rate else "-",
            f"{full:,.0f}",
            "yes" if self.same else "NO",
            f"{self.peak_rss / 2**20:,.0f}",
        ]


HEADER = [
    "scenario",
    "items",
    "roster rows",
    "output rows",
    "vectorised s",
    "vectorised items/s",
    "baseline sample",
    "baseline s",
    "baseline items/s",
    "vectorised / baseline",
    "baseline, all items, est. s",
    "same result",
    "peak RSS MiB",
]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines.extend("| " + " | ".join(r.cells()) + " |" for r in rows)
    return "\n".join(lines)


def district(schools: int | None) -> SyntheticDistrict:
    profiles = SchoolProfiles().parse(shared_data_dir() / SchoolProfiles.default_files[0]).frame
    if schools is not None:
        profiles = profiles.sort("school_id").head(schools)
    return synth_district(profiles, SynthConfig())


# ------------------------------------------------------------------------------- tracing


CONTACT_KEY = ["case_id", "person_id", "setting", "classroom_id", "last_exposure"]


def per_case_contacts(
    case: dict[str, Any],
    rosters: Rosters,
    rules: pl.DataFrame,
    days: set[dt.date],
) -> list[tuple[Any, ...]]:
    """The baseline: one case's contacts, filtering the rosters for this case (polars) and
    walking its window day by day (Python). Same definitions as ``trace``."""
    anchor = case["onset_date"] or case["specimen_date"] or case["report_date"]
    rule = rules.filter(pl.col("from") <= anchor).row(-1, named=True)
    first = anchor - dt.timedelta(days=rule["window_days_before"])
    last = max(anchor, case["report_date"])
    window = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    members = pl.concat(
        [
            rosters.enrolment.select("person_id", "classroom_id", "start_date", "end_date"),
            rosters.staff_assignment.select("person_id", "classroom_id", "start_date", "end_date"),
        ]
    ).filter(pl.col("classroom_id").is_not_null())
    mine = members.filter(pl.col("person_id") == case["person_id"])
    exposures: dict[tuple[str, str], dt.date] = {}
    for day in window:
        if day not in days:
            continue
        rooms = [
            r["classroom_id"]
            for r in mine.iter_rows(named=True)
            if r["start_date"] <= day and (r["end_date"] is None or day <= r["end_date"])
        ]
        if not rooms:
            continue
        there = members.filter(pl.col("classroom_id").is_in(rooms))
        for r in there.iter_rows(named=True):
            if r["person_id"] == case["person_id"]:
                continue
            if r["start_date"] <= day and (r["end_date"] is None or day <= r["end_date"]):
                key = (r["person_id"], r["classroom_id"])
                exposures[key] = max(exposures.get(key, day), day)
    out: dict[str, tuple[Any, ...]] = {}
    home = rosters.person.filter(pl.col("person_id") == case["person_id"])["household_id"]
    if home.len() and home[0] is not None:
        for other in rosters.person.filter(pl.col("household_id") == home[0])["person_id"]:
            if other != case["person_id"]:
                out[other] = (case["case_id"], other, "household", None, last)
    for (person, room), day in sorted(
        exposures.items(), key=lambda kv: (kv[0][0], -kv[1].toordinal())
    ):
        if person not in out:
            out[person] = (case["case_id"], person, "homeroom", room, day)
    return sorted(out.values())


def tracing_scenario(name: str, schools: int | None, cases: int, sample: int, repeats: int) -> Row:
    d = district(schools)
    config = ObservationConfig()
    registry = Registry()
    reported = surge_cases(d, WEEK, cases, config)
    days = school_days(d, WEEK - dt.timedelta(days=7), WEEK + dt.timedelta(days=4))
    rosters = district_rosters(d, config)
    run = lambda: trace(  # noqa: E731
        reported, rosters, registry, school_days=days["date"], local=config.local_quarantine
    )
    vectorised_s = be.median_time(run, repeats)
    result = run()
    rules = rules_in_force(registry, config.local_quarantine)
    picked = reported[np.linspace(0, reported.height - 1, sample).round().astype(int)].unique(
        "case_id", maintain_order=True
    )
    day_set = set(days["date"].to_list())
    baseline: list[tuple[Any, ...]] = []
    t0 = time.perf_counter()
    for case in picked.iter_rows(named=True):
        baseline.extend(per_case_contacts(case, rosters, rules, day_set))
    baseline_s = time.perf_counter() - t0
    want = sorted(
        result.contacts.filter(pl.col("case_id").is_in(picked["case_id"].implode()))
        .select(CONTACT_KEY)
        .iter_rows()
    )
    same = sorted(baseline) == want and len(want) > 0
    roster_rows = rosters.person.height + rosters.enrolment.height + rosters.staff_assignment.height
    return Row(
        name,
        reported.height,
        "cases",
        roster_rows,
        result.contacts.height,
        vectorised_s,
        picked.height,
        baseline_s,
        same,
        be.peak_rss(),
    )


# ---------------------------------------------------------------------- pooled screening


def screening_week(
    students: pl.DataFrame, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Plan and deconvolute one week's pooled screening of ``students`` (``person_id``,
    ``consented``): ``(assignments, pool_results, retest_results, persons)``. Results are
    simulated (``PREVALENCE``, ``INVALID_SHARE``). The one place to switch to
    ``operations.screening.plan_week`` when it lands."""
    assignments = assign_pools(students, POOL_SIZE, seed)
    rng = np.random.default_rng(seed + 1)
    infected = pl.Series("infected", rng.random(assignments.height) < PREVALENCE)
    truth = assignments.with_columns(infected)
    pools = truth.group_by("pool_id").agg(pl.col("infected").any()).sort("pool_id")
    invalid = rng.random(pools.height) < INVALID_SHARE
    pool_results = pools.select(
        "pool_id",
        pl.when(pl.Series(invalid))
        .then(pl.lit("invalid"))
        .when(pl.col("infected"))
        .then(pl.lit("positive"))
        .otherwise(pl.lit("negative"))
        .alias("result"),
        pl.lit(WEEK).alias("specimen_date"),
    )
    retested = truth.join(
        pool_results.filter(pl.col("result") != "negative").select("pool_id"), on="pool_id"
    )
    retests = retested.select(
        "person_id",
        pl.when(pl.col("infected"))
        .then(pl.lit("positive"))
        .otherwise(pl.lit("negative"))
        .alias("result"),
        pl.lit(WEEK + dt.timedelta(days=1)).alias("specimen_date"),
    )
    persons = deconvolve(assignments, pool_results, retests, today=WEEK + dt.timedelta(days=6))
    return assignments, pool_results, retests, persons.persons


def per_pool_status(
    pool_id: str,
    assignments: pl.DataFrame,
    pool_results: pl.DataFrame,
    retests: pl.DataFrame,
) -> list[tuple[str, str]]:
    """The baseline: one pool's members decided in Python from the results."""
    members = assignments.filter(pl.col("pool_id") == pool_id)["person_id"].to_list()
    results = pool_results.filter(pl.col("pool_id") == pool_id)["result"].to_list()
    pool = results[-1] if results else None
    singles = dict(
        retests.filter(pl.col("person_id").is_in(members)).select("person_id", "result").iter_rows()
    )
    out = []
    for person in members:
        single = singles.get(person)
        if single in ("positive", "negative"):
            status = single
        elif single in ("invalid", "inconclusive"):
            status = "retest_queued"
        elif pool == "negative":
            status = "negative"
        elif pool is None:
            status = "pending"
        else:
            status = "retest_queued"
        out.append((person, status))
    return sorted(out)


def screening_scenario(name: str, schools: int | None, sample: int, repeats: int) -> Row:
    d = district(schools)
    students = d.frames["person"].filter(pl.col("role") == "student").select("person_id")
    consent = np.random.default_rng(7).random(students.height) < CONSENT_SHARE
    students = students.with_columns(pl.Series("consented", consent))
    vectorised_s = be.median_time(lambda: screening_week(students, 11), repeats)
    assignments, pool_results, retests, persons = screening_week(students, 11)
    pool_ids = pool_results["pool_id"].to_list()
    picked = sorted({pool_ids[int(i)] for i in np.linspace(0, len(pool_ids) - 1, sample).round()})
    # make sure the sample holds positive pools too
    positive = pool_results.filter(pl.col("result") == "positive")["pool_id"].to_list()
    picked = sorted(set(picked) | set(positive[: max(1, sample // 10)]))
    t0 = time.perf_counter()
    baseline = []
    for pool_id in picked:
        baseline.extend(per_pool_status(pool_id, assignments, pool_results, retests))
    baseline_s = time.perf_counter() - t0
    want = sorted(
        persons.filter(pl.col("pool_id").is_in(picked)).select("person_id", "status").iter_rows()
    )
    same = sorted(baseline) == want and len(want) > 0
    sampled_people = len(baseline)
    return Row(
        name,
        assignments.height,
        "students",
        students.height,
        persons.height,
        vectorised_s,
        sampled_people,
        baseline_s,
        same,
        be.peak_rss(),
    )


SCENARIOS: dict[str, dict[str, tuple[int | None, int, int, int]]] = {
    # key -> mode -> (schools or None for all, cases, baseline sample, repeats)
    "(a)": {"full": (None, 3000, 40, 3), "quick": (12, 60, 8, 1)},
    "(b)": {"full": (None, 0, 200, 3), "quick": (12, 0, 20, 1)},
}


def child(key: str, mode: str) -> dict[str, Any]:
    schools, cases, sample, repeats = SCENARIOS[key][mode]
    size = "Chicago-sized" if schools is None else f"first {schools} schools"
    if key == "(a)":
        name = f"(a) trace a surge week, {size}"
        return asdict(tracing_scenario(name, schools, cases, sample, repeats))
    name = f"(b) pooled screening week, {size}"
    return asdict(screening_scenario(name, schools, sample, repeats))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small version that runs in seconds")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    mode = "quick" if args.quick else "full"
    rows = []
    for key in SCENARIOS:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", key, mode],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(Row(**json.loads(proc.stdout.strip().splitlines()[-1])))
    print(table(rows))
    print()
    for row in rows:
        ratio = row.rate / row.baseline_rate if row.baseline_rate else float("inf")
        print(
            f"{row.scenario}: vectorised {ratio:,.0f}x the per-item loop; "
            f"results {'identical' if row.same else 'DIFFERENT'} on the sample"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

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
(b) **pooled screening**: one week's screening planned by the policy in force
    (:func:`screening_week`: ``operations.screening_plan.plan_week`` under ``cps-ctu-2022-01-10``:
    10% of each school's students drawn from the consented, pools of the policy's
    ``screening_pool_size``, simulated pool and retest results, ``deconvolve``, positivity).
    Consent comes from ``synth.consent.synth_consent``. **Baseline**, same run: a per-pool
    Python loop deciding each pool's members from the same results, on a sample of pools
    (with positive and invalid ones), scaled; its statuses are checked equal. The baseline
    does only the deconvolution that the timed path does after planning, so the ratio
    understates the gain.

Consent shares, prevalence and the invalid share are benchmark inputs (:data:`CONSENT_SHARE`,
:data:`STAFF_CONSENT_SHARE`, :data:`PREVALENCE`, :data:`INVALID_SHARE`), not policy numbers. Each scenario runs in a child
process so its peak RSS (``resource.getrusage``) is its own.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as bc  # timing, peak RSS, child processes, tables
from schoolmode.importers.cps import SchoolProfiles
from schoolmode.operations.pooling import deconvolve
from schoolmode.operations.screening import screening_policy
from schoolmode.operations.screening_plan import WeekScreening, plan_week
from schoolmode.operations.tracing import Rosters, rules_in_force, trace
from schoolmode.policy.loader import Registry
from schoolmode.policy.model import Policy
from schoolmode.settings import AppSettings
from schoolmode.synth.consent import district_consent
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
STAFF_CONSENT_SHARE = 0.9
"""Benchmark input: share of staff consenting to screening."""
PREVALENCE = 0.02
"""Benchmark input: share of persons who are infected that week."""
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
    deconvolve_s: float | None = None  # (b): the deconvolution alone, same inputs

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
    return bc.markdown_table(HEADER, (r.cells() for r in rows))


def school_profiles(schools: int | None) -> pl.DataFrame:
    """The CPS school profiles (standard ``school`` rows), the first ``schools`` by id."""
    profiles = (
        SchoolProfiles().parse(AppSettings.load().data_dir / SchoolProfiles.default_files[0]).frame
    )
    return profiles if schools is None else profiles.sort("school_id").head(schools)


def district(schools: int | None) -> SyntheticDistrict:
    return synth_district(school_profiles(schools), SynthConfig())


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
    vectorised_s = bc.median_time(run, repeats)
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
        bc.peak_rss(),
    )


# ---------------------------------------------------------------------- pooled screening


def screening_inputs(
    schools: int | None,
) -> tuple[dict[str, pl.DataFrame], Policy, pl.Series, int]:
    """The synthetic district's frames with testing consent (``synth_consent`` at
    :data:`CONSENT_SHARE` / :data:`STAFF_CONSENT_SHARE`), the screening policy in force in the
    week (``cps-ctu-2022-01-10``), the persons infected that week (:data:`PREVALENCE` of
    everyone) and the roster rows."""
    profiles = school_profiles(schools)
    frames = dict(synth_district(profiles, SynthConfig()).frames)
    frames["school"] = profiles.drop("_row")
    frames["testing_consent"] = district_consent(frames, CONSENT_SHARE, STAFF_CONSENT_SHARE, 7)
    policy = screening_policy(Registry(), WEEK)
    people = frames["person"]["person_id"]
    infected = people.filter(pl.Series(np.random.default_rng(11).random(people.len()) < PREVALENCE))
    roster_rows = sum(frames[n].height for n in ("person", "enrolment", "staff_assignment"))
    return frames, policy, infected, roster_rows


def screening_week(
    frames: dict[str, pl.DataFrame], policy: Policy, infected: pl.Series, seed: int
) -> WeekScreening:
    """One week's pooled screening by the policy's planning rules
    (``operations.screening_plan.plan_week``): select the consented students, pool them, simulate
    pool results and retests for ``infected`` (:data:`INVALID_SHARE` invalid), deconvolve."""
    return plan_week(frames, policy, WEEK, seed, infected=infected, invalid_share=INVALID_SHARE)


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
    frames, policy, infected, roster_rows = screening_inputs(schools)
    vectorised_s = bc.median_time(lambda: screening_week(frames, policy, infected, 11), repeats)
    week = screening_week(frames, policy, infected, 11)
    assignments = week.plan.tests.select("person_id", "pool_id")
    pool_results, retests, persons = (
        week.pool_results,
        week.individual_results,
        week.outcome.persons,
    )
    pool_ids = pool_results["pool_id"].to_list()
    picked = sorted({pool_ids[int(i)] for i in np.linspace(0, len(pool_ids) - 1, sample).round()})
    # make sure the sample holds positive and invalid pools too
    for result in ("positive", "invalid"):
        some = pool_results.filter(pl.col("result") == result)["pool_id"].to_list()
        picked = sorted(set(picked) | set(some[: max(1, sample // 10)]))
    t0 = time.perf_counter()
    baseline = []
    for pool_id in picked:
        baseline.extend(per_pool_status(pool_id, assignments, pool_results, retests))
    baseline_s = time.perf_counter() - t0
    want = sorted(
        persons.filter(pl.col("pool_id").is_in(picked)).select("person_id", "status").iter_rows()
    )
    same = sorted(baseline) == want and len(want) > 0
    deconvolve_s = bc.median_time(
        lambda: deconvolve(assignments, pool_results, retests), max(repeats, 3)
    )
    return Row(
        name,
        assignments.height,
        "tests",
        roster_rows,
        persons.height,
        vectorised_s,
        len(baseline),
        baseline_s,
        same,
        bc.peak_rss(),
        deconvolve_s,
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
    got = bc.scenario_main(__doc__, argv, __file__, SCENARIOS, child)
    if got is None:  # a child: it printed its row
        return 0
    rows = [Row(**row) for row in got]
    print(table(rows))
    print()
    for row in rows:
        ratio = row.rate / row.baseline_rate if row.baseline_rate else float("inf")
        print(
            f"{row.scenario}: vectorised {ratio:,.0f}x the per-item loop; "
            f"results {'identical' if row.same else 'DIFFERENT'} on the sample"
        )
        if row.deconvolve_s:
            alone = row.items / row.deconvolve_s / row.baseline_rate
            print(
                f"{row.scenario}: of which the deconvolution alone {row.deconvolve_s:.3f} s, "
                f"{alone:,.0f}x the per-pool loop (the rest is planning, pooling and simulation)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

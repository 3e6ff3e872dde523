"""Benchmark the backtest against a naive day-by-day loop over the same engine.

    uv run python bench/bench_backtest.py            # full run (a few minutes)
    uv run python bench/bench_backtest.py --quick    # small version, seconds
    uv run python bench/bench_backtest.py --quick --db sqlite:///out/schoolmode.sqlite
                                                     # + one day's decision (bench_decide.py)

Scenarios (synthetic metric frames built by ``bench_engine.py``'s generators: school
attributes, teacher and student absences, cases, a citywide positivity series; weekends and
holidays off), every shipped Chicago policy (CPS and CTU ids) with school- or district-level
rules, applied over the whole period:

(a) 655 schools x two school years (670 calendar days);
(b) a synthetic 20,000-school district over the same days.

Measured against, in the same run, a **baseline** that decides one day at a time the way a
naive daily loop would: for each day, evaluate the policy on the frames up to that day and
keep that day's result. That loop costs about (days / 2) full evaluations, so it runs on an
evenly spaced sample of days and its rate is reported per decision (unit-days decided per
second); the estimated time of the full loop is scaled from the sample. The baseline's
decisions are compared with the backtest's on the sampled days ("same modes").

With ``--db URL`` of an SQLite store holding the synthetic district (``--day``, default
2022-01-20), `bench_decide.py` runs after the table: one day's stored decision against the same
day from whole-history inputs, in the same run.

Each scenario runs in a child process so that its peak RSS (``resource.getrusage``) is its
own. Only public tools are used: ``time.perf_counter`` and ``resource.getrusage``.
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
import bench_engine as be  # the synthetic frame generators
from schoolmode.backtest.run import run_backtest
from schoolmode.engine.grid import Calendar
from schoolmode.engine.period import counterfactual
from schoolmode.engine.table import evaluate_table
from schoolmode.policy import model as m
from schoolmode.policy.loader import Registry
from schoolmode.policy.needs import metrics_needed

START = dt.date(2020, 8, 31)  # a Monday; two school years to mid-2022
COMPARED = ["unit", "date", "mode", "status", "rule"]


@dataclass
class Row:
    scenario: str
    policies: int
    units: int  # schools (+1 for the district where a policy has district rules)
    days: int
    decisions: int  # unit-days decided by the backtest
    backtest_s: float
    sample_days: int
    baseline_decisions: int
    baseline_s: float
    same: bool
    peak_rss: int

    @property
    def rate(self) -> float:
        return self.decisions / self.backtest_s if self.backtest_s else float("inf")

    @property
    def baseline_rate(self) -> float:
        return self.baseline_decisions / self.baseline_s if self.baseline_s else float("inf")

    def cells(self) -> list[str]:
        naive_full = self.baseline_s * self.days / self.sample_days if self.sample_days else 0
        return [
            self.scenario,
            str(self.policies),
            f"{self.units:,}",
            f"{self.days:,}",
            f"{self.decisions:,}",
            f"{self.backtest_s:.2f}",
            f"{self.rate:,.0f}",
            f"{self.sample_days}",
            f"{self.baseline_decisions:,}",
            f"{self.baseline_s:.2f}",
            f"{self.baseline_rate:,.0f}",
            f"{self.rate / self.baseline_rate:,.0f}x" if self.baseline_rate else "-",
            f"{naive_full:,.0f}",
            "yes" if self.same else "NO",
            f"{self.peak_rss / 2**20:,.0f}",
        ]


HEADER = [
    "scenario",
    "policies",
    "units",
    "calendar days",
    "decisions (unit-days)",
    "backtest s",
    "backtest decisions/s",
    "baseline days sampled",
    "baseline decisions",
    "baseline s",
    "baseline decisions/s",
    "backtest / baseline",
    "naive loop, all days, est. s",
    "same modes",
    "peak RSS MiB",
]


def table(rows: list[Row]) -> str:
    return bc.markdown_table(HEADER, (r.cells() for r in rows))


def chicago_policies() -> list[m.Policy]:
    """Every shipped CPS or CTU policy with a school- or district-level rule."""
    registry = Registry()
    out = []
    for pid in registry.ids():
        policy = registry.get(pid).policy
        if pid.startswith(("cps-", "ctu-")) and any(
            r.scope in (m.Scope.school, m.Scope.district) for r in policy.rules
        ):
            out.append(policy)
    return out


def frames_for(
    n_schools: int, days: int, policies: list[m.Policy]
) -> tuple[dict[str, pl.DataFrame], Calendar]:
    wanted: dict[str, set[str]] = {"school": set(), "district": set()}
    for policy in policies:
        for scope, names in be.needs(policy).items():
            if scope in wanted:
                wanted[scope] |= names
    calendar, school_days = be.school_calendar(START, days, holidays_per_year=12)
    city = be.citywide(days, np.random.default_rng(3))
    school = be.school_frame(n_schools, START, school_days, wanted["school"], city, 5)
    district = be.district_frame(days, START, wanted["district"], city)
    return {"school": school, "district": district}, calendar


def given(policy: m.Policy, frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The frames ``run_backtest`` hands the engine for ``policy``."""
    scopes = {r.scope.value for r in policy.rules}
    for need in metrics_needed(policy).values():
        scopes |= set(need)
    return {s: f for s, f in frames.items() if s in scopes}


def naive_day(
    policy: m.Policy, frames: dict[str, pl.DataFrame], calendar: Calendar, day: dt.date
) -> dict[str, pl.DataFrame]:
    """What a daily loop recomputes: the policy on every row up to ``day``; keeps ``day``."""
    upto = {s: f.filter(pl.col("date") <= day) for s, f in frames.items()}
    result = evaluate_table(policy, upto, calendar=calendar)
    return {s: r.filter(pl.col("date") == day) for s, r in result.items()}


def scenario(name: str, n_schools: int, days: int, sample: int, repeats: int) -> Row:
    policies = chicago_policies()
    frames, calendar = frames_for(n_schools, days, policies)
    end = START + dt.timedelta(days=days - 1)
    backtest_s = bc.median_time(
        lambda: run_backtest(
            policies, frames, START, end, calendar=calendar, apply_over_whole_period=True
        ),
        repeats,
    )
    # every policy over the whole period, as the baseline applies it (``counterfactual``):
    # the scenario's days are outside most policies' own terms
    backtest = run_backtest(
        policies, frames, START, end, calendar=calendar, apply_over_whole_period=True
    )
    decisions = sum(r.height for run in backtest.runs for r in run.results.values())
    sampled = [START + dt.timedelta(days=int(i)) for i in np.linspace(0, days - 1, sample).round()]
    baseline_s = 0.0
    baseline_decisions = 0
    same = True
    for policy, run in zip(policies, backtest.runs, strict=True):
        used = counterfactual(policy, START)
        mine = given(policy, frames)
        for day in sampled:
            t0 = time.perf_counter()
            kept = naive_day(used, mine, calendar, day)
            baseline_s += time.perf_counter() - t0
            for scope, got in kept.items():
                baseline_decisions += got.height
                want = run.results[scope].filter(pl.col("date") == day)
                cast = [pl.col(c).cast(pl.String) for c in ("mode", "status", "rule")]
                same &= (
                    got.select(COMPARED)
                    .with_columns(cast)
                    .equals(want.select(COMPARED).with_columns(cast))
                )
    units = n_schools + 1
    return Row(
        name,
        len(policies),
        units,
        days,
        decisions,
        backtest_s,
        len(sampled),
        baseline_decisions,
        baseline_s,
        same,
        bc.peak_rss(),
    )


SCENARIOS: dict[str, dict[str, tuple[int, int, int, int]]] = {
    # key -> mode -> (schools, calendar days, baseline days sampled, repeats)
    "(a)": {"full": (655, 670, 24, 3), "quick": (20, 70, 4, 1)},
    "(b)": {"full": (20_000, 670, 6, 1), "quick": (200, 70, 3, 1)},
}
LABELS = {"(a)": "CPS-sized", "(b)": "synthetic large district"}


def child(key: str, mode: str) -> dict[str, Any]:
    n_schools, days, sample, repeats = SCENARIOS[key][mode]
    name = f"{key} {LABELS[key]}: {n_schools:,} schools x {days} days"
    return asdict(scenario(name, n_schools, days, sample, repeats))


def store_args(argv: list[str] | None) -> tuple[list[str], list[str]]:
    """``argv`` without ``--db URL`` and ``--day DATE``, and those options (for
    ``bench_decide.py``)."""
    rest = list(sys.argv[1:] if argv is None else argv)
    store: list[str] = []
    for flag in ("--db", "--day"):
        if flag in rest:
            at = rest.index(flag)
            store += rest[at : at + 2]
            del rest[at : at + 2]
    return rest, store


def main(argv: list[str] | None = None) -> int:
    argv, store = store_args(argv)
    got = bc.scenario_main(__doc__, argv, __file__, SCENARIOS, child)
    if got is None:  # a child: it printed its row
        return 0
    rows = [Row(**row) for row in got]
    print(table(rows))
    print()
    for row in rows:
        ratio = row.rate / row.baseline_rate if row.baseline_rate else float("inf")
        print(
            f"{row.scenario}: backtest {ratio:,.0f}x the day-by-day loop per decision "
            f"({'at least' if ratio >= 20 else 'BELOW'} 20x); "
            f"decisions {'identical' if row.same else 'DIFFERENT'} on the sampled days"
        )
    if "--db" in store:
        import bench_decide  # one day's stored decision against whole-history inputs

        print()
        return int(bench_decide.main(store))
    print("single-day decision: not measured (pass --db URL of a synthetic district store)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

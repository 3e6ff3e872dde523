"""Per-run outbreak outcomes (one row per run: ``runs.csv``, ``runs.parquet``) and their
statistics over runs (``outbreaks.csv``): the final size of the seeded chain at its
extinction, later introductions counted apart, peak, duration, first detection, closures and
lost class-days per student; the probability of a large outbreak and the mean size of large
outbreaks with intervals.

The seeded chain is the initial infections and everyone infected through them; an importation
from outside the population starts a chain of its own (``model.Epidemic.origin``, inherited
from the infector), so community introductions after day 0 never inflate the seeded chain's
size. The chain is extinct when none of its members is latent or infectious any more; a chain
still alive on the run's last day is censored: its size and duration are those at the run's
end (lower bounds), and the row says so.

Intervals: the probability of a large outbreak has a **Wilson score** 95% interval (right for
a proportion near 0 or 1 and few runs, where the normal approximation is not); the mean size of
large outbreaks and the mean final size have a **bootstrap percentile** 95% interval (2,000
resamples of the runs, a fixed generator seed so a report is reproducible).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from schoolmode.sim.state import IMPORTED, SEEDED

RUN_FIELDS = (
    "seeded",
    "seed_day",
    "chain_size",
    "chain_extinct",
    "chain_duration_days",
    "chain_peak_infectious",
    "chain_first_detection_day",
    "importations",
    "importation_infections",
    "infections",
    "peak_infectious",
    "first_case_day",
    "school_days_remote",
    "classroom_days_remote",
    "grade_days_remote",
    "students",
    "lost_class_days_per_student",
    "closure_class_days_per_student",
)
"""The per-run outbreak outcomes, in the order of ``runs.csv`` (after policy, seed and the
scenario parameters). ``RUN_DEFINITIONS`` says what each is."""

RUN_DEFINITIONS = {
    "seeded": "initial infections (the seeds of the seeded chain)",
    "seed_day": "day of the initial infections (0 unless seed_weekday moves them)",
    "chain_size": "final size of the seeded chain: the seeds and everyone infected through "
    "them, at the chain's extinction (at the run's end when censored)",
    "chain_extinct": "whether the seeded chain died out within the run (false: censored, its "
    "size and duration are those at the run's end)",
    "chain_duration_days": "days from the seed day to the chain's extinction, the first day "
    "none of its members is latent or infectious (to the run's end when censored)",
    "chain_peak_infectious": "most members of the seeded chain infectious on one day",
    "chain_first_detection_day": "first day a member of the seeded chain was reported a case "
    "on or after its infection (empty: never detected)",
    "importations": "introductions from outside the population during the run (each starts a "
    "chain of its own)",
    "importation_infections": "infections in the chains of those introductions, "
    "introductions included (counted apart from the seeded chain)",
    "infections": "all infections of the run (seeded chain plus importation chains)",
    "peak_infectious": "most agents infectious on one day, whatever their chain",
    "first_case_day": "first day any case was reported (false positives included: the day the "
    "policy first sees a case; empty: none)",
    "school_days_remote": "school-days a school was closed (school days only)",
    "classroom_days_remote": "classroom-days a classroom was closed, its grade's and school's "
    "closures included (school days only)",
    "grade_days_remote": "grade-days a grade (the population's group of classrooms) was "
    "closed, its school's closures included (school days only)",
    "students": "students enrolled in the population's schools",
    "lost_class_days_per_student": "school days a student did not attend in person (closures, "
    "isolation, quarantine, illness), averaged over the students",
    "closure_class_days_per_student": "of those, school days the student's classroom, grade or "
    "school was closed",
}

Z95 = 1.959963984540054
"""The standard normal quantile of a two-sided 95% interval."""
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
LARGE_PER_SEED = 10
"""Default large-outbreak threshold: a seeded chain that reached ten times its seeds."""


def default_large(initial_infections: int) -> int:
    """The large-outbreak threshold when none is set: ``LARGE_PER_SEED`` times the seeds (at
    least ``LARGE_PER_SEED``). The final-size plot shows whether it falls in the gap between
    minor and major outbreaks; set ``--large`` where it does not."""
    return LARGE_PER_SEED * max(initial_infections, 1)


def chain_peak(t_infectious: np.ndarray, t_recovered: np.ndarray, days: int) -> int:
    """Most of the given agents infectious on one day ``0 .. days - 1`` (infectious on ``d``
    while ``t_infectious <= d < t_recovered``)."""
    if days <= 0 or t_infectious.size == 0:
        return 0
    diff = np.zeros(days + 1, dtype=np.int64)
    np.add.at(diff, np.clip(t_infectious, 0, days), 1)
    np.add.at(diff, np.clip(t_recovered, 0, days), -1)
    return int(np.cumsum(diff[:days]).max(initial=0))


def run_row(
    origin: np.ndarray,
    t_infected: np.ndarray,
    t_infectious: np.ndarray,
    t_recovered: np.ndarray,
    reported: np.ndarray,
    days: int,
    counts: tuple[int, int, int],
    daily: tuple[np.ndarray, np.ndarray],
    remote: tuple[int, int, int],
    attendance: tuple[int, int, int, int],
) -> dict[str, float | None]:
    """The outbreak outcomes of one run at its end. ``origin``: each agent's
    (``model.Epidemic.origin``); ``reported``: each agent's report day (-1: never);
    ``counts``: seeds, seed day and importations; ``daily``: cases reported and agents infectious per
    day; ``remote``: school-days, classroom-days and grade-days remote; ``attendance``: students, school
    days, in-person student-days and student-days in a closed unit (school days)."""
    chain = np.flatnonzero(origin == SEEDED)
    ends = t_recovered[chain]
    last = int(ends.max()) if ends.size else 0
    extinct = last <= days
    seen = reported[chain]
    seen = seen[seen >= t_infected[chain]]  # reported once infected (not an earlier false positive)
    cases_by_day, prevalence = daily
    cases = np.flatnonzero(cases_by_day)
    students, school_days, in_person, closed = attendance
    per_student = max(students, 1)
    return {
        "seeded": float(counts[0]),
        "seed_day": float(counts[1]),
        "chain_size": float(chain.size),
        "chain_extinct": float(extinct),
        "chain_duration_days": float((last if extinct else days) - counts[1])
        if chain.size
        else 0.0,
        "chain_peak_infectious": float(chain_peak(t_infectious[chain], ends, days)),
        "chain_first_detection_day": float(seen.min()) if seen.size else None,
        "importations": float(counts[2]),
        "importation_infections": float(np.count_nonzero(origin == IMPORTED)),
        "infections": float(np.count_nonzero(origin >= 0)),
        "peak_infectious": float(prevalence.max(initial=0)),
        "first_case_day": float(cases[0]) if cases.size else None,
        "school_days_remote": float(remote[0]),
        "classroom_days_remote": float(remote[1]),
        "grade_days_remote": float(remote[2]),
        "students": float(students),
        "lost_class_days_per_student": (school_days * students - in_person) / per_student,
        "closure_class_days_per_student": closed / per_student,
    }


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """The Wilson score 95% interval of a proportion (``(nan, nan)`` without trials)."""
    if trials <= 0:
        return math.nan, math.nan
    p = successes / trials
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends (no rounding)
    hi = 1.0 if successes == trials else min(1.0, centre + half)
    return lo, hi


def bootstrap_mean(values: np.ndarray) -> tuple[float, float, float]:
    """Mean of ``values`` and its bootstrap percentile 95% interval (``BOOTSTRAP_RESAMPLES``
    resamples, generator seed ``BOOTSTRAP_SEED``); the interval is NaN below two values, where
    a bootstrap says nothing."""
    if values.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan
    gen = np.random.default_rng(BOOTSTRAP_SEED)
    picks = gen.integers(0, values.size, size=(BOOTSTRAP_RESAMPLES, values.size))
    means = values[picks].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return mean, float(lo), float(hi)


SUMMARY_FIELDS = (
    "runs",
    "large_threshold",
    "large_runs",
    "p_large",
    "p_large_lo",
    "p_large_hi",
    "mean_large_size",
    "mean_large_size_lo",
    "mean_large_size_hi",
    "mean_chain_size",
    "mean_chain_size_lo",
    "mean_chain_size_hi",
    "censored_runs",
    "censored_large_runs",
)
"""Columns of ``outbreaks.csv`` after the grouping columns (``policy``; ``value`` for a
sweep)."""


def outbreak_summary(
    runs: pl.DataFrame, large: int, by: Sequence[str] = ("policy",)
) -> pl.DataFrame:
    """Per group of ``runs`` (``by``): runs, the probability that the seeded chain reached
    ``large`` infections (Wilson 95% interval), the mean size of those large outbreaks and the
    mean final size (bootstrap 95% intervals), and how many runs were censored (the chain alive
    at the run's end)."""
    rows = []
    for key, part in runs.group_by(list(by), maintain_order=True):
        sizes = part["chain_size"].to_numpy().astype(np.float64)
        censored = part["chain_extinct"].to_numpy() == 0
        is_large = sizes >= large
        n, k = sizes.size, int(is_large.sum())
        lo, hi = wilson(k, n)
        big = bootstrap_mean(sizes[is_large])
        every = bootstrap_mean(sizes)
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                "runs": n,
                "large_threshold": large,
                "large_runs": k,
                "p_large": k / n if n else math.nan,
                "p_large_lo": lo,
                "p_large_hi": hi,
                "mean_large_size": big[0],
                "mean_large_size_lo": big[1],
                "mean_large_size_hi": big[2],
                "mean_chain_size": every[0],
                "mean_chain_size_lo": every[1],
                "mean_chain_size_hi": every[2],
                "censored_runs": int(censored.sum()),
                "censored_large_runs": int((censored & is_large).sum()),
            }
        )
    return pl.DataFrame(rows).with_columns(pl.col(pl.Float64).fill_nan(None))

"""A surge week end to end in the synthetic district.

Several thousand cases in one school week -> contact tracing by the rules in force
(``operations/tracing.py``) -> quarantine and isolation orders -> absences (students
quarantined or isolated; staff absent for documented COVID-19 reasons, with substitute cover)
-> the school and classroom metrics of ``metrics/school.py`` -> the January 2022 agreement
(``cps-ctu-2022-01-10``) evaluated by the engine: which schools become eligible for remote
learning and which classrooms flip to temporary remote.

Cases are spread over the week's school days and over schools in proportion to their
people (a multinomial draw from the ``surge-allocation`` stream), then placed on people by
:func:`schoolmode.synth.observations.derive_cases` (staff share, household links). The
``ObservationConfig`` numbers (substitute pool and fill rate, staff exemption) apply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from schoolmode.draws import stream
from schoolmode.engine.period import run_over_period
from schoolmode.metrics.school import SchoolData, unit_metrics
from schoolmode.operations.tracing import Tracing
from schoolmode.policy.loader import Registry, shipped_registry
from schoolmode.synth.district import SyntheticDistrict
from schoolmode.synth.observations import (
    ObservationConfig,
    derive_absences,
    derive_cases,
    derive_coverage,
    population,
    school_days,
    trace_district,
)

AGREEMENT = "cps-ctu-2022-01-10"
SHOWN = (
    "classroom_teachers",
    "covid_absent_teachers",
    "absences_covered_by_substitutes",
    "enrolled",
    "students_quarantine_isolation",
)


@dataclass
class SurgeWeek:
    """Every stage of a surge week (frames in the data standard's layout where one exists)."""

    start: dt.date
    end: dt.date
    cases: pl.DataFrame
    tracing: Tracing
    absence: pl.DataFrame
    substitute_coverage: pl.DataFrame
    school: pl.DataFrame
    """School metrics (``unit`` = school id, one row per calendar day of the week)."""
    classroom: pl.DataFrame
    decisions: dict[str, pl.DataFrame]
    """The engine's results by scope (``school``, ``classroom``): ``unit``, ``date``,
    ``mode``, ``rule`` and ``trigger.<rule>`` columns."""

    @property
    def orders(self) -> pl.DataFrame:
        return self.tracing.orders

    def eligible_schools(self) -> pl.DataFrame:
        """Schools and days where a school rule of the agreement is met (eligible for remote:
        the CPS Tactical Team decides), with the shares that met it."""
        out = self.decisions["school"]
        triggers = [c for c in out.columns if c.startswith("trigger.")]
        met = out.filter(pl.any_horizontal(*(pl.col(c).fill_null(False) for c in triggers)))
        return (
            met.join(
                self.school.select("unit", "date", *SHOWN),
                on=["unit", "date"],
            )
            .select("unit", "date", "mode", *triggers, *SHOWN)
            .sort("unit", "date")
        )

    def flipped_classrooms(self) -> pl.DataFrame:
        """Classrooms and days in temporary remote learning (flip-to-remote)."""
        out = self.decisions["classroom"]
        return (
            out.filter(pl.col("mode") == "temporary_remote")
            .select("unit", "date")
            .sort("unit", "date")
        )

    def summary(self) -> dict[str, int]:
        orders = self.orders
        return {
            "cases": self.cases.height,
            "contacts": self.tracing.contacts.height,
            "orders": orders.height,
            "quarantine_orders": int((orders["kind"] == "quarantine").sum()),
            "isolation_orders": int((orders["kind"] == "isolation").sum()),
            "staff_absence_days": self.absence.height,
            "schools_eligible_for_remote": self.eligible_schools()["unit"].n_unique(),
            "classrooms_flipped": self.flipped_classrooms()["unit"].n_unique(),
            "exceptions": self.tracing.exceptions.height,
        }


def surge_cases(
    district: SyntheticDistrict,
    week: dt.date,
    cases: int,
    config: ObservationConfig,
) -> pl.DataFrame:
    """``cases`` standard case rows reported on the school days of the week starting on
    ``week`` (a Monday), spread over schools in proportion to their people."""
    days = school_days(district, week, week + dt.timedelta(days=6))
    if days.height == 0:
        raise ValueError(f"no school days in the week of {week}")
    people = population(district).group_by("school_id").agg(pl.len().alias("people"))
    people = people.sort("school_id")
    share = people["people"].to_numpy() / people["people"].sum()
    counts = stream(config.seed, "surge-allocation").multinomial(cases, share)
    weekly = people.select(
        "school_id",
        pl.lit(week).alias("week"),
        pl.lit(days.height, dtype=pl.UInt32).alias("school_days"),
        pl.Series("cases", counts.astype(np.int64)),
    )
    return derive_cases(district, weekly, days, config)


def surge_week(
    district: SyntheticDistrict,
    week: dt.date,
    cases: int,
    config: ObservationConfig | None = None,
    registry: Registry | None = None,
) -> SurgeWeek:
    """Run a surge week of ``cases`` cases from Monday ``week`` to its Friday (see the module
    doc). The agreement is evaluated over the week as if in force (counterfactually where the
    week is outside its term)."""
    config = config or ObservationConfig()
    registry = registry or shipped_registry()
    start, end = week, week + dt.timedelta(days=4)
    reported = surge_cases(district, week, cases, config)
    days = school_days(district, start - dt.timedelta(days=7), end)
    tracing = trace_district(district, reported, config, days, registry)
    absence = derive_absences(district, tracing.orders, days.filter(pl.col("date") >= start))
    coverage = derive_coverage(district, absence, config)
    frames = district.frames
    data = SchoolData.from_frames(
        classroom=frames["classroom"],
        enrolment=frames["enrolment"],
        staff_assignment=frames["staff_assignment"],
        absence=absence,
        substitute_coverage=coverage,
        quarantine_order=tracing.orders,
        case=reported,
    )
    frames = unit_metrics(data, start, end)
    school, room = frames["school"], frames["classroom"]
    policy = registry.get(AGREEMENT).policy
    cut = {scope: f.filter(pl.col("date") <= end) for scope, f in frames.items()}
    decisions = run_over_period(policy, cut, start, apply_over_whole_period=True).results
    return SurgeWeek(
        start=start,
        end=end,
        cases=reported,
        tracing=tracing,
        absence=absence,
        substitute_coverage=coverage,
        school=school,
        classroom=room,
        decisions={k: v for k, v in decisions.items() if k in ("school", "classroom")},
    )

"""What one run of the policy loop yields: the scalar outcomes, the daily series and the
``LoopResult`` (``loop.py``), and the counters the rooms of a day add to (``Tally``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from schoolmode.sim.decide import LoopEngine
from schoolmode.sim.state import ADULT, NEVER, OTHER_STAFF, PRIOR, STUDENT, TEACHER

OUTCOMES = (
    "infections",
    "infections_students",
    "infections_staff",
    "infections_household",
    "infections_in_school",
    "in_person_student_days",
    "in_person_staff_days",
    "school_days_remote",
    "classroom_days_remote",
    "grade_days_remote",
    "student_absence_days",
    "staff_absence_days",
    "quarantine_days",
    "isolation_days",
    "tests",
    "pools",
    "cases_reported",
    "peak_infectious",
    "peak_day",
    "doses",
    "masked_school_days",
)
"""Scalar outcomes of one run (per policy and seed)."""
PHASES = ("gates", "transmission", "observation", "operations", "metrics", "engine")


@dataclass
class LoopResult:
    policy_id: str
    seed: int
    outcomes: dict[str, float]
    daily: dict[str, np.ndarray]
    """Series by day: ``new_infections``, ``infectious``, ``schools_remote``,
    ``classrooms_remote``, ``grades_remote``, ``in_person_students``, ``cases_reported`` (every agent),
    ``school_cases_reported`` (the schools' students and staff), ``tests``."""
    engine: LoopEngine | None = None
    agents: np.ndarray | None = None
    school_layer_infections: np.ndarray | None = None
    """(days, schools): infections in a school layer by the infected agent's school."""
    gates: list[np.ndarray] = field(default_factory=list)
    """Gate arrays per day, kept only when ``keep_gates`` (tests)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Wall seconds per phase of the day (``PHASES``), summed over days."""
    missing_metrics: list[str] = field(default_factory=list)
    """``scope.metric`` the policy reads that the simulator does not produce."""
    records: dict[str, pl.DataFrame] | None = None
    """Observations as standard records (``case``, ``quarantine_order``, ``absence``,
    ``substitute_coverage``), only when ``keep_records``: the metrics of ``metrics/school.py``
    computed from them equal the loop's (tested)."""
    orders: list[np.ndarray] = field(default_factory=list)
    """Per day, agents under an isolation or quarantine order (only when ``keep_gates``)."""
    masked: list[np.ndarray] = field(default_factory=list)
    """Per day, the schools whose in-school layers carry the masking multipliers (only when
    ``keep_gates``; ``masking.py``)."""
    beta: float = 0.0
    """The transmission hazard used (the scenario's, or calibrated when ``beta: auto``)."""
    beta_cached: bool = False
    """Whether an ``auto`` beta came from a cache."""
    outbreak: dict[str, float | None] = field(default_factory=dict)
    """The run's outbreak outcomes (``outbreaks.RUN_FIELDS``: the seeded chain's final size,
    extinction and duration, importations counted apart, first detection, closures, lost
    class-days per student), one row of ``runs.csv``."""


class Tally:
    """The counters of one run: series by day, cases by unit and day, and running totals."""

    def __init__(self, days: int, n_schools: int, n_rooms: int) -> None:
        def series() -> np.ndarray:
            return np.zeros(days, dtype=np.int64)

        self.days = days
        self.tests_by_day = series()
        self.positives_by_day = series()
        self.resulted_by_day = series()
        self.cases_by_day = series()
        self.new_inf = series()
        self.prevalence = series()
        self.schools_remote = series()
        self.rooms_remote = series()
        self.grades_remote = series()
        self.schools_masked = series()
        """Schools open and masked (``masking.py``) each school day."""
        self.in_person_students = series()
        self.school_layer_inf = np.zeros((days, n_schools), dtype=np.int64)
        self.daily_cases_s = np.zeros((n_schools, days), dtype=np.int64)
        """(schools, days): cases reported among the school's students and staff."""
        self.daily_hh_s = np.zeros((n_schools, days), dtype=np.int64)
        """(schools, days): of those, the household-linked ones."""
        self.daily_cases_c_nonhh = np.zeros((n_rooms, days), dtype=np.int64)
        """(homerooms, days): the homeroom's cases that are not household-linked."""
        self.totals: dict[str, float] = dict.fromkeys(OUTCOMES, 0.0)
        self.pools_used = 0
        self.doses = 0
        self.importations = 0
        """Infections introduced from outside the population (``state.IMPORTED``)."""
        self.closed_student_days = 0
        """Student-days (school days) in a closed classroom or school."""

    def outcomes(
        self, role: np.ndarray, t_infected: np.ndarray, origin: np.ndarray
    ) -> dict[str, float]:
        """The scalar outcomes at the end of the run (infections: the run's, not the recently
        recovered seeds, ``origin`` ``PRIOR``)."""
        totals = self.totals
        roles = role[(t_infected != NEVER) & (origin != PRIOR)]
        totals["infections"] = float(roles.size)
        totals["infections_students"] = float((roles == STUDENT).sum())
        totals["infections_staff"] = float(((roles == TEACHER) | (roles == OTHER_STAFF)).sum())
        totals["infections_household"] = float((roles == ADULT).sum())
        totals["school_days_remote"] = float(self.schools_remote.sum())
        totals["classroom_days_remote"] = float(self.rooms_remote.sum())
        totals["grade_days_remote"] = float(self.grades_remote.sum())
        totals["tests"] = float(self.tests_by_day.sum())
        totals["pools"] = float(self.pools_used)
        totals["cases_reported"] = float(self.cases_by_day.sum())
        totals["peak_infectious"] = float(self.prevalence.max(initial=0))
        totals["peak_day"] = float(int(np.argmax(self.prevalence)) if self.days else 0)
        totals["doses"] = float(self.doses)
        totals["masked_school_days"] = float(self.schools_masked.sum())
        return {k: float(v) for k, v in totals.items()}

    def daily(self) -> dict[str, np.ndarray]:
        return {
            "new_infections": self.new_inf,
            "infectious": self.prevalence,
            "schools_remote": self.schools_remote,
            "classrooms_remote": self.rooms_remote,
            "grades_remote": self.grades_remote,
            "schools_masked": self.schools_masked,
            "in_person_students": self.in_person_students,
            "cases_reported": self.cases_by_day,
            "school_cases_reported": self.daily_cases_s.sum(axis=0),
            "tests": self.tests_by_day,
        }

"""The metrics the policy loop feeds its engine each day, from the day's observations, under
the names and definitions of ``metrics/school.py`` and the district frame."""

from __future__ import annotations

import numpy as np

from schoolmode.metrics.outbreak import meets_definition
from schoolmode.sim import rng
from schoolmode.sim.day_state import DayState
from schoolmode.sim.decide import LoopEngine
from schoolmode.sim.outcomes import Tally
from schoolmode.sim.setup import RunSetup


def _staff(run: RunSetup, engine: LoopEngine, d: int, order: np.ndarray) -> None:
    """Teachers out (and their substitute coverage), staff and students under orders."""
    g = run.groups
    S, sch = g.n_schools, g.school
    teacher_out = g.is_teacher & order & bool(run.school_day[d])
    out_ids = np.flatnonzero(teacher_out)
    covered = np.zeros(g.n, dtype=bool)
    covered[out_ids] = run.u(rng.SUBSTITUTE, out_ids, d) < run.scenario.substitute_cover_share
    if run.records is not None:
        run.records.absence(d, np.flatnonzero(teacher_out), covered[teacher_out])
    student_order = g.is_student & order & (sch >= 0)
    staff_order = g.is_staff & order & (sch >= 0)
    rec = engine.record
    rec("school", "classroom_teachers", d, g.teachers_s)
    rec("school", "covid_absent_teachers", d, np.bincount(sch[teacher_out], minlength=S))
    rec("school", "absences_covered_by_substitutes", d, np.bincount(sch[covered], minlength=S))
    rec("school", "enrolled", d, g.enrolled_s)
    rec("school", "in_person_students", d, g.enrolled_s)
    rec("school", "students_quarantine_isolation", d, np.bincount(sch[student_order], minlength=S))
    rec("school", "staff_total", d, g.staff_s)
    rec("school", "staff_isolation_quarantine", d, np.bincount(sch[staff_order], minlength=S))
    room, C = g.room, g.n_rooms
    if not (
        _scope_read(run, engine, STAFF, "classroom") or _scope_read(run, engine, STAFF, "grade")
    ):
        return
    rec("classroom", "enrolled", d, g.enrolled_c)
    room_orders = np.bincount(room[student_order & (room >= 0)], minlength=C)
    rec("classroom", "students_quarantine_isolation", d, room_orders)
    if _scope_read(run, engine, STAFF, "grade"):
        rec("grade", "enrolled", d, g.enrolled_g)
        rec("grade", "students_quarantine_isolation", d, g.by_grade(room_orders))


def _trailing_sum(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Row sums of days ``lo .. hi`` of a (units x days) count array: for many units a day at a
    time (numpy's sum along rows of a few strided days costs about ten times as much for the
    district's 15,000 classrooms; for a school's few the one call costs less)."""
    if values.shape[0] < 1000:
        return np.asarray(values[:, lo : hi + 1].sum(axis=1))
    out = values[:, lo].copy()
    for day in range(lo + 1, hi + 1):
        out += values[:, day]
    return out


def _cases(run: RunSetup, tally: Tally, engine: LoopEngine, d: int, cases: np.ndarray) -> None:
    """Cases by school and homeroom, and the outbreak definition's inputs and result."""
    g = run.groups
    S, C, room = g.n_schools, g.n_rooms, g.room
    lo14 = max(0, d - 13)
    rec = engine.record
    rec("school", "school_cases", d, tally.daily_cases_s[:, d])
    rec("school", "household_linked_cases", d, tally.daily_hh_s[:, d])
    rec("school", "school_cases_14d", d, _trailing_sum(tally.daily_cases_s, lo14, d))
    rec("school", "household_linked_cases_14d", d, _trailing_sum(tally.daily_hh_s, lo14, d))
    daily_c = tally.daily_cases_c_nonhh
    rule = run.ops.outbreak
    window = _trailing_sum(daily_c, max(0, d - rule.window_days), d)
    outbreak = meets_definition(window, g.group_size_c, rule)
    in_outbreak = np.zeros(S, dtype=np.int64)
    in_outbreak[g.room_school[(g.room_school >= 0) & outbreak]] = 1  # a homeroom in outbreak
    rec("school", "in_outbreak", d, in_outbreak)
    members = cases[(room[cases] >= 0) & (g.is_student[cases] | g.is_teacher[cases])]
    room_cases = np.bincount(room[members], minlength=C)
    rec("classroom", "positive_cases_reported", d, room_cases)
    # IDPH outbreak definition's inputs per core group (homeroom)
    rec("classroom", "group_size", d, g.group_size_c)
    rec("classroom", "qualifying_cases", d, daily_c[:, d])
    # a grade's: the sums over its homerooms
    if not _scope_read(run, engine, CASES, "grade"):
        return
    rec("grade", "positive_cases_reported", d, g.by_grade(room_cases))
    rec("grade", "group_size", d, g.by_grade(g.group_size_c))
    rec("grade", "qualifying_cases", d, g.by_grade(daily_c[:, d]))


def _district(run: RunSetup, tally: Tally, engine: LoopEngine, d: int) -> None:
    """Citywide positivity and case rates (also on the school frame, as
    ``metrics/frames.school_frame`` does)."""
    lo7, lo14 = max(0, d - 6), max(0, d - 13)
    tests, positives = tally.resulted_by_day, tally.positives_by_day
    cases_by_day = tally.cases_by_day

    def pct(lo: int) -> float:
        t = int(tests[lo : d + 1].sum())
        return 100.0 * int(positives[lo : d + 1].sum()) / t if t else 0.0

    per100k = 1e5 / max(run.groups.n, 1)
    district = {
        "positivity_7d_pct": pct(lo7),
        "positivity_14d_pct": pct(lo14),
        "cases_per_100k_7d": float(cases_by_day[lo7 : d + 1].sum() * per100k),
        "cases_per_100k_14d": float(cases_by_day[lo14 : d + 1].sum() * per100k),
    }
    for name, value in district.items():
        engine.record("district", name, d, np.array([value]))
        engine.record("school", name, d, np.full(run.groups.n_schools, value))


def _vaccinated(run: RunSetup, st: DayState, engine: LoopEngine, d: int) -> None:
    """``students_vaccinated``: the school's students with a completed vaccine series (second
    dose given by day ``d``), read only when a rule reads it."""
    if "students_vaccinated" not in engine.columns.get("school", set()):
        return
    g = run.groups
    done = g.is_student & g.has_school & (st.dose2 <= d)
    engine.record(
        "school", "students_vaccinated", d, np.bincount(g.school[done], minlength=g.n_schools)
    )


def record_metrics(
    run: RunSetup, st: DayState, tally: Tally, engine: LoopEngine, d: int, cases: np.ndarray
) -> None:
    """Day ``d``'s metrics into ``engine``; ``cases``: the cases reported on ``d``. Each group
    of metrics is computed when the policy reads one of them, or always when the run keeps its
    records (whose metrics are tested equal to these)."""
    if _reads(run, engine, STAFF):
        order = st.iso_until > d
        order |= st.quar_until > d
        _staff(run, engine, d, order)
    if _reads(run, engine, CASES):
        _cases(run, tally, engine, d, cases)
    if _reads(run, engine, DISTRICT):
        _district(run, tally, engine, d)
    _vaccinated(run, st, engine, d)


STAFF = {
    "school": {
        "classroom_teachers",
        "covid_absent_teachers",
        "absences_covered_by_substitutes",
        "enrolled",
        "in_person_students",
        "students_quarantine_isolation",
        "staff_total",
        "staff_isolation_quarantine",
    },
    "classroom": {"enrolled", "students_quarantine_isolation"},
    "grade": {"enrolled", "students_quarantine_isolation"},
}
"""The metrics ``_staff`` records, by scope."""
CASES = {
    "school": {
        "school_cases",
        "household_linked_cases",
        "school_cases_14d",
        "household_linked_cases_14d",
        "in_outbreak",
    },
    "classroom": {"positive_cases_reported", "group_size", "qualifying_cases"},
    "grade": {"positive_cases_reported", "group_size", "qualifying_cases"},
}
"""The metrics ``_cases`` records, by scope."""
DISTRICT = {
    scope: {"positivity_7d_pct", "positivity_14d_pct", "cases_per_100k_7d", "cases_per_100k_14d"}
    for scope in ("district", "school")
}
"""The metrics ``_district`` records, by scope."""


def _scope_read(
    run: RunSetup, engine: LoopEngine, metrics: dict[str, set[str]], scope: str
) -> bool:
    """Whether the run keeps its records or the policy reads one of ``metrics`` at ``scope``
    (a scope's metrics are computed only when that scope is read); found on the run's first
    day and remembered by its engine."""
    key = (id(metrics), scope)
    if key not in engine.reads:
        read = bool(metrics[scope] & engine.columns.get(scope, set()))
        engine.reads[key] = run.records is not None or read
    return engine.reads[key]


def _reads(run: RunSetup, engine: LoopEngine, metrics: dict[str, set[str]]) -> bool:
    """Whether the run keeps its records or the policy reads one of ``metrics``."""
    key = (id(metrics), None)
    if key not in engine.reads:
        read = any(metrics[scope] & engine.columns.get(scope, set()) for scope in metrics)
        engine.reads[key] = run.records is not None or read
    return engine.reads[key]

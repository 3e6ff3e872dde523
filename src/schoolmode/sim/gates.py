"""The gates of a day in the policy loop: which layer memberships are open. A remote district,
school, grade or classroom closes the school layers of its agents (a grade: those of its
homerooms' students and classroom teachers, as each homeroom's closure would); so do weekends
and holidays, isolation, quarantine and staying home ill. Isolated agents also lose their
community contacts."""

from __future__ import annotations

import numpy as np

from schoolmode.sim.day_state import DayState, Today
from schoolmode.sim.outcomes import Tally
from schoolmode.sim.rng import jit
from schoolmode.sim.setup import RunSetup


def _closed(run: RunSetup, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(schools,), (grades,), (homerooms,) bool: closed by the modes of day ``d`` (a grade by
    its school's too, a homeroom by its grade's and school's)."""
    engine, g = run.engine, run.groups
    if engine is None:
        return (
            np.zeros(g.n_schools, dtype=bool),
            np.zeros(g.n_grades, dtype=bool),
            np.zeros(g.n_rooms, dtype=bool),
        )
    district_closed = bool(run.closed[engine.modes["district"][0, d]])
    s_closed = run.closed[engine.modes["school"][:, d]] | district_closed
    g_closed = run.closed[engine.modes["grade"][:, d]] | s_closed[g.grade_school]
    r_closed = run.closed[engine.modes["classroom"][:, d]] | s_closed[np.maximum(g.room_school, 0)]
    r_closed |= (g.room_grade >= 0) & g_closed[np.maximum(g.room_grade, 0)]
    return s_closed, g_closed, r_closed


def _mask(run: RunSetup, d: int, s_closed: np.ndarray) -> np.ndarray:
    """(schools,) bool: masked on day ``d`` (``masking.py``); sets the kernel's table when the
    policy decides masking."""
    plan, engine = run.masking, run.engine
    if plan is None or engine is None:
        return np.full(s_closed.size, run.masks_in_school, dtype=bool)
    if d == 0:  # before the engine's first decision: the scenario's masking
        masked = np.ones(s_closed.size, dtype=bool)
    else:
        district = int(engine.modes["district"][0, d]) if "district" in engine.ruled else None
        school = engine.modes["school"][:, d] if "school" in engine.ruled else None
        masked = plan.masked(district, school, s_closed.size)
    plan.set_day(masked)
    return masked


_NOBODY = np.empty(0, dtype=np.int64)


def reported_today(st: DayState, d: int) -> np.ndarray:
    """Agents a positive result will report today, known before the day's contacts: results
    queued on earlier days (a result of a test taken today, turnaround 0, is not among them:
    it isolates from tomorrow)."""
    batches = st.results.get(d)
    if not batches:
        return np.empty(0, dtype=np.int64)
    who = np.unique(np.concatenate([w[p] for w, p in batches]))
    return np.asarray(who[st.reported[who] < 0])


def _part_of_day(run: RunSetup, st: DayState, d: int, going: np.ndarray, fraction: float) -> None:
    """``Epidemic.presence`` of day ``d``: ``fraction`` of the day in school for those who go
    home ill during it and, in school and the community, for the cases reported today (isolated
    from the report); 1 for everyone else (yesterday's reset)."""
    presence = run.epi.presence
    if st.partial.size:
        presence[:, st.partial] = 1.0
    reported = reported_today(st, d) if fraction < 1 else _NOBODY
    school = np.flatnonzero(going)
    if reported.size:  # an agent twice is set twice: the same
        school = np.concatenate((school, reported))
        presence[1, reported] = fraction
    if school.size:
        presence[0, school] = fraction
    st.partial = school


@jit
def _agents(
    d: int,
    school_day: bool,
    has_school: np.ndarray,
    school_idx: np.ndarray,
    room: np.ndarray,
    room_idx: np.ndarray,
    s_closed: np.ndarray,
    r_closed: np.ndarray,
    sym: np.ndarray,
    stay_home: np.ndarray,
    going: np.ndarray,
    iso_until: np.ndarray,
    quar_until: np.ndarray,
    is_student: np.ndarray,
    is_staff: np.ndarray,
    last_attended: np.ndarray,
    isolated: np.ndarray,
    quarantined: np.ndarray,
    present: np.ndarray,
    counts: np.ndarray,
) -> None:
    """One pass over the agents of day ``d``: fills ``isolated``, ``quarantined`` and
    ``present`` (in school, going home ill during the day or not), sets ``last_attended`` of
    those present and counts into ``counts``: students and staff attending the whole day,
    students in a closed unit, students and staff away, quarantined (not isolated), isolated."""
    for i in range(has_school.size):
        iso = iso_until[i] > d
        quar = quar_until[i] > d
        ill = sym[i] and stay_home[i]
        closed = has_school[i] and (
            s_closed[school_idx[i]] or (room[i] >= 0 and r_closed[room_idx[i]])
        )
        away = ill or iso or quar
        here = (
            has_school[i]
            and school_day
            and not closed
            and not (iso or quar or (ill and not going[i]))
        )
        isolated[i] = iso
        quarantined[i] = quar
        present[i] = here
        if here:
            last_attended[i] = d
            if not going[i]:
                if is_student[i]:
                    counts[0] += 1
                if is_staff[i]:
                    counts[1] += 1
        if closed and is_student[i]:
            counts[2] += 1
        if away and has_school[i] and is_student[i]:
            counts[3] += 1
        if away and is_staff[i]:
            counts[4] += 1
        if quar and not iso:
            counts[5] += 1
        if iso:
            counts[6] += 1


def open_gates(run: RunSetup, st: DayState, tally: Tally, d: int) -> Today:
    """Set ``st.gate`` for day ``d``, count attendance and absence; returns what the day's
    other phases read."""
    g, epi = run.groups, run.epi
    s_closed, g_closed, r_closed = _closed(run, d)
    school_day = bool(run.school_day[d])
    masked = _mask(run, d, s_closed)
    if school_day:
        tally.schools_remote[d] = np.count_nonzero(s_closed)
        tally.rooms_remote[d] = np.count_nonzero(r_closed)
        tally.grades_remote[d] = np.count_nonzero(g_closed)
        tally.schools_masked[d] = np.count_nonzero(masked & ~s_closed)
    sources = epi.sources(d, run.active_list)
    if run.active_list:
        sym = np.zeros(g.n, dtype=bool)
        sym[sources[epi.t_symptoms[sources] <= d]] = True
    else:
        sym = (epi.t_symptoms <= d) & (d < epi.t_recovered)
    fraction = run.scenario.onset_day_fraction
    going = np.zeros(g.n, dtype=bool)  # ill from today: goes home during the day
    if fraction > 0:
        onset = sources[epi.t_symptoms[sources] == d]
        going[onset[run.stay_home[onset]]] = True
    isolated = np.empty(g.n, dtype=bool)
    quarantined = np.empty(g.n, dtype=bool)
    present = np.empty(g.n, dtype=bool)
    counts = np.zeros(7, dtype=np.int64)
    _agents(
        d,
        school_day,
        g.has_school,
        g.school_idx,
        g.room,
        g.room_idx,
        s_closed,
        r_closed,
        sym,
        run.stay_home,
        going,
        st.iso_until,
        st.quar_until,
        g.is_student,
        g.is_staff,
        st.last_attended,
        isolated,
        quarantined,
        present,
        counts,
    )
    gate = st.gate
    gate[:] = True
    gate[run.school_layers] = present
    if run.community >= 0:
        gate[run.community] = ~isolated
    if run.off_school.size:
        gate[run.off_school] = ~(present | isolated | quarantined)
    recorded = run.recorded_day[d]
    for k, layers in enumerate(run.day_layers):  # a time-resolved network: one recorded day
        if k != recorded:
            gate[layers] = False
    _part_of_day(run, st, d, present & going, fraction)
    if run.keep_gates:
        run.gates_kept.append(gate.copy())
        run.orders_kept.append(isolated | quarantined)
        run.masked_kept.append(masked.copy())
    totals = tally.totals
    attending, staff, closed, student_away, staff_away, quarantine, isolation = (
        int(c) for c in counts
    )
    tally.in_person_students[d] = attending
    totals["in_person_student_days"] += attending
    totals["in_person_staff_days"] += staff
    if school_day:
        tally.closed_student_days += closed
        totals["student_absence_days"] += student_away
        totals["staff_absence_days"] += staff_away
    totals["quarantine_days"] += quarantine
    totals["isolation_days"] += isolation
    return Today(sources=sources, sym=sym, isolated=isolated, quarantined=quarantined)

"""Operations on the results reported in the policy loop: cases are counted and isolated, and
their homeroom and household contacts traced (with delay and daily capacity) into quarantine
or test-to-stay."""

from __future__ import annotations

import numpy as np

from schoolmode.sim import rng
from schoolmode.sim.day_state import DayState
from schoolmode.sim.groups import members
from schoolmode.sim.outcomes import Tally
from schoolmode.sim.setup import RunSetup
from schoolmode.sim.state import ADULT

HOUSEHOLD_LINK_DAYS = 14
"""A case is household-linked when another case was reported in its household in the 14 days
before."""


def report(run: RunSetup, st: DayState, tally: Tally, d: int) -> np.ndarray:
    """Results arriving on day ``d``: the new cases (sorted agents) are reported, isolated,
    counted by school and homeroom, and queued for tracing."""
    arrived = st.results.pop(d, [])
    cases = np.empty(0, dtype=np.int64)
    if arrived:
        got = np.concatenate([w for w, _ in arrived])
        positive = np.concatenate([p for _, p in arrived])
        tally.positives_by_day[d] += int(positive.sum())
        tally.resulted_by_day[d] += got.size
        cases = np.unique(got[positive])
        cases = cases[st.reported[cases] < 0]
    # pools: members of positive pools were queued for an individual retest (testing.screen)
    if not cases.size:
        return cases
    g, ops = run.groups, run.ops
    st.reported[cases] = d
    hh = g.household[cases]
    linked = np.zeros(cases.size, dtype=bool)  # a population without households: none
    at_home = hh >= 0
    linked[at_home] = st.hh_last_case[hh[at_home]] >= d - HOUSEHOLD_LINK_DAYS
    if run.records is not None:
        run.records.case(d, cases, linked)
    tally.cases_by_day[d] = cases.size
    st.iso_until[cases] = np.maximum(st.iso_until[cases], d + ops.isolation_days + 1)
    run.order("isolation", cases, d, np.full(cases.size, d + ops.isolation_days))
    st.tts_from[cases] = -1
    st.hh_last_case[hh[hh >= 0]] = d
    in_s = g.school[cases] >= 0
    np.add.at(tally.daily_cases_s[:, d], g.school[cases[in_s]], 1)
    np.add.at(tally.daily_hh_s[:, d], g.school[cases[in_s & linked]], 1)
    nonhh = (g.room[cases] >= 0) & ~linked & (g.is_student[cases] | g.is_teacher[cases])
    np.add.at(tally.daily_cases_c_nonhh[:, d], g.room[cases[nonhh]], 1)
    st.trace_queue.append(
        (d + run.scenario.tracing.delay_days, cases, st.last_attended[cases].copy())
    )
    return cases


def _due(run: RunSetup, st: DayState, d: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Cases due for tracing on ``d`` within the daily capacity (the rest wait a day), with
    their last days in school."""
    queue = st.trace_queue
    due = [q for q in queue if q[0] <= d]
    if not due:
        return None
    queue[:] = [q for q in queue if q[0] > d]
    cases = np.concatenate([q[1] for q in due])
    last = np.concatenate([q[2] for q in due])
    cap = run.scenario.tracing.capacity_per_day
    if cap is not None and cases.size > cap:
        order = np.argsort(run.u(rng.TRACE_ORDER, cases, d), kind="stable")
        keep, later = order[:cap], order[cap:]
        queue.append((d + 1, cases[later], last[later]))
        cases, last = cases[keep], last[keep]
    return cases, last


def trace(run: RunSetup, st: DayState, d: int) -> None:
    """Trace due cases (up to the daily capacity): homeroom contacts who attended with the
    case in its infectious window (``window_days_before`` days of the tracing rule in force
    before the report's specimen, to its last day in school) quarantine, or test to stay where allowed; household members quarantine."""
    found = _due(run, st, d)
    if found is None:
        return
    cases, last = found
    g, ops, sc = run.groups, run.ops, run.scenario
    qdays = ops.quarantine_days
    turnaround = sc.tests[sc.symptomatic.test].turnaround_days
    window_start = st.reported[cases] - ops.window_days_before - turnaround
    room = g.room[cases]
    in_room = (room >= 0) & (last >= window_start)
    if in_room.any():
        which, member = members(*g.room_members, room[in_room])
        case_last = last[in_room][which]
        exposed = (member != cases[in_room][which]) & (
            st.last_attended[member] >= window_start[in_room][which]
        )
        member, case_last = member[exposed], case_last[exposed]
        if ops.test_to_stay:
            st.tts_from[member] = np.maximum(st.tts_from[member], case_last)
        else:
            st.quar_until[member] = np.maximum(st.quar_until[member], case_last + qdays + 1)
            run.order("quarantine", member, d, case_last + qdays)
    if sc.tracing.household:
        hh = g.household[cases]
        has = hh >= 0
        which, member = members(*g.hh_members, hh[has])
        member = member[(member != cases[has][which]) & (g.role[member] != ADULT)]
        st.quar_until[member] = np.maximum(st.quar_until[member], d + qdays + 1)
        run.order("quarantine", member, d, np.full(member.size, d + qdays))

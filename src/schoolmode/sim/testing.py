"""Observation in the policy loop: symptomatic tests, weekly screening (staff, consented
students, Dorfman pools, top-ZIP shares) and test-to-stay tests, each with its test type's
sensitivity, specificity, invalid rate (retested the next day) and turnaround; results wait in
the day state's result queue until their day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np

from schoolmode.operations.screening import share_of
from schoolmode.sim import rng
from schoolmode.sim.day_state import DayState, Today
from schoolmode.sim.model import Epidemic
from schoolmode.sim.outcomes import Tally
from schoolmode.sim.scenario import TestType
from schoolmode.sim.setup import RunSetup
from schoolmode.sim.state import NEVER


def _shedding_day(
    epi: Epidemic, who: np.ndarray, day: np.ndarray | int, test: TestType
) -> np.ndarray:
    """(agents,) the day after infectiousness ``day`` is (0: the first day no longer
    infectious) where it is within ``positive_after_infectious``'s days, else -1."""
    t_rec = epi.t_recovered[who]
    k = np.asarray(day - t_rec, dtype=np.int64)
    within = (k >= 0) & (k < len(test.positive_after_infectious)) & (t_rec != NEVER)
    return np.where(within, k, -1)


def positive_chance(
    epi: Epidemic, who: np.ndarray, day: np.ndarray | int, test: TestType
) -> np.ndarray:
    """(agents,) the probability that ``who`` test positive on ``day`` (their specimen days):
    ``sensitivity`` while infectious (``sensitivity_presymptomatic`` before a symptomatic
    infection's onset, when set), ``positive_after_infectious[k]`` on the ``k``-th day after
    infectiousness ends, else the false-positive rate ``1 - specificity``."""
    t_inf, t_rec = epi.t_infectious[who], epi.t_recovered[who]
    infectious = (t_inf <= day) & (day < t_rec)
    sens = np.full(who.size, test.sensitivity)
    if test.sensitivity_presymptomatic is not None:
        t_sym = epi.t_symptoms[who]
        sens[(day < t_sym) & (t_sym != NEVER)] = test.sensitivity_presymptomatic
    chance = np.where(infectious, sens, 1 - test.specificity)
    if test.positive_after_infectious:
        k = _shedding_day(epi, who, day, test)
        shed = k >= 0
        chance[shed] = np.asarray(test.positive_after_infectious)[k[shed]]
    return chance


def carrying(epi: Epidemic, who: np.ndarray, day: int, test: TestType) -> np.ndarray:
    """(agents,) bool: infectious on ``day``, or within ``positive_after_infectious``'s days
    after it (the members whose probability a pool takes: ``_pooled``)."""
    infectious = (epi.t_infectious[who] <= day) & (day < epi.t_recovered[who])
    return np.asarray(infectious | (_shedding_day(epi, who, day, test) >= 0))


def test(
    run: RunSetup, who: np.ndarray, day: int, test: TestType, stream: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Test ``who`` from ``day``: (agents with a result, result day, positive, tests used).

    An invalid result is repeated the next day, up to ``max_attempts``; the result is drawn
    on the specimen day of the valid attempt from the agent's infectiousness that day.
    """
    if who.size == 0:
        return who, who.copy(), np.zeros(0, bool), 0
    valid_at = np.full(who.size, -1, dtype=np.int64)
    used = 0
    for k in range(test.max_attempts):
        pending = valid_at < 0
        used += int(pending.sum())
        ok = run.u(rng.TEST_INVALID, who, stream * 1000 + day, k) >= test.invalid_rate
        valid_at[pending & ok] = k
    got = valid_at >= 0
    who = who[got]
    specimen = day + valid_at[got]
    draw = run.u(rng.TEST_RESULT, who, stream * 1000 + day, 0)
    positive = draw < positive_chance(run.epi, who, specimen, test)
    return who, specimen + test.turnaround_days, positive, used


def _test_and_queue(
    run: RunSetup, st: DayState, who: np.ndarray, day: int, kind: TestType, stream: int
) -> int:
    """Test ``who`` and queue the results; returns the tests used."""
    got, rday, pos, used = test(run, who, day, kind, stream)
    st.queue(got, rday, pos)
    return used


def top_zip_schools(run: RunSetup, recent_cases: np.ndarray) -> np.ndarray:
    """(schools,) bool: schools whose ZIP is among the ``top_zip_count`` ZIPs with the most
    cases reported among the district's schools over the last 7 days (ties by ZIP code)."""
    g = run.groups
    top = np.zeros(g.n_schools, dtype=bool)
    n = run.ops.top_zip_count
    if n <= 0 or g.zip_of_school.max(initial=-1) < 0:
        return top
    known = g.zip_of_school >= 0
    by_zip = np.bincount(g.zip_of_school[known], weights=recent_cases[known], minlength=g.n_zips)
    order = np.lexsort((np.arange(g.n_zips), -by_zip))[:n]
    return known & np.isin(g.zip_of_school, order)


def _students_chosen(
    run: RunSetup, week: int, day: int, isolated: np.ndarray, top: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This week's random share of consented students per school (the shares times the
    scenario's ``student_weekly_factors`` of run day ``day``'s week): (students, their rank in
    the school's draw, their school), in school then draw order."""
    g, ops, sc = run.groups, run.ops, run.scenario
    share = ops.student_share_pct
    top_share = max(share, ops.top_zip_student_share_pct)
    factor = sc.screening.student_factor((day + sc.start.weekday()) // 7)
    if factor != 1:
        share, top_share = min(share * factor, 100.0), min(top_share * factor, 100.0)
    quota = np.array(
        [
            share_of(int(e), Decimal(str(top_share if t else share)), ops.rounding)
            for e, t in zip(g.enrolled_s, top, strict=True)
        ],
        dtype=np.int64,
    )
    cand = np.flatnonzero(g.is_student & run.consent & ~isolated & (g.school >= 0))
    key = run.u(rng.SCREEN_STUDENT, cand, week)
    order = np.lexsort((key, g.school[cand]))
    cand = cand[order]
    sch = g.school[cand]
    start = np.searchsorted(sch, sch, side="left")
    rank = np.arange(cand.size) - start
    chosen = rank < quota[sch]
    return cand[chosen], rank[chosen], sch[chosen]


def _pooled(
    run: RunSetup, st: DayState, d: int, cand: np.ndarray, rank: np.ndarray, sch: np.ndarray
) -> tuple[int, int]:
    """Dorfman pools of ``pool_size`` students of one school: a pool is one test on its first
    member's key, positive with the largest probability (``positive_chance``) of its members
    who carry the pathogen (``carrying``: infectious, or within the test's
    ``positive_after_infectious`` days), else with the false-positive rate; a positive pool's
    members are retested one by one when the pool result arrives. Returns (tests used,
    pools)."""
    k = run.scenario.screening.pool_size
    test_type = run.screen_test
    pool_key = sch * 1_000_000 + rank // k
    uniq, pool_of = np.unique(pool_key, return_inverse=True)
    pools = int(uniq.size)
    epi = run.epi
    carry = carrying(epi, cand, d, test_type)
    chance = np.full(pools, 1 - test_type.specificity)
    if carry.any():
        best = np.full(pools, -1.0)
        np.maximum.at(best, pool_of[carry], positive_chance(epi, cand[carry], d, test_type))
        chance = np.where(best >= 0, best, chance)
    head = np.zeros(pools, dtype=np.int64)
    head[pool_of[::-1]] = cand[::-1]
    draw = run.u(rng.POOL_RESULT, head, d)
    pool_pos = draw < chance
    retest = cand[pool_pos[pool_of]]
    retest_day = d + test_type.turnaround_days
    return pools + _test_and_queue(run, st, retest, retest_day, test_type, 5), pools


def screen(
    run: RunSetup,
    st: DayState,
    d: int,
    week: int,
    isolated: np.ndarray,
    top: np.ndarray,
) -> tuple[int, int]:
    """Weekly screening: a share of staff, and a random share of consented students per
    school (pooled when ``pool_size`` > 1); schools in the top ZIPs (``top``) use the
    top-ZIP shares where those are larger. Returns (tests used, pools)."""
    used = 0
    ops, g = run.ops, run.groups
    staff_share = np.where(
        top, max(ops.staff_share_pct, ops.top_zip_staff_share_pct), ops.staff_share_pct
    )
    if staff_share.max(initial=0) > 0:
        staff = np.flatnonzero(g.is_staff & ~isolated & (g.school >= 0))
        chance = staff_share[g.school[staff]] / 100
        pick = staff[run.u(rng.SCREEN_STAFF, staff, week) < chance]
        used += _test_and_queue(run, st, pick, d, run.screen_test, 2)
    share = ops.student_share_pct
    top_share = max(share, ops.top_zip_student_share_pct)
    if share <= 0 and not (top.any() and top_share > 0):
        return used, 0
    cand, rank, sch = _students_chosen(run, week, d, isolated, top)
    if run.scenario.screening.pool_size <= 1:
        return used + _test_and_queue(run, st, cand, d, run.screen_test, 4), 0
    pooled_used, pools = _pooled(run, st, d, cand, rank, sch)
    return used + pooled_used, pools


def observe(
    run: RunSetup,
    st: DayState,
    tally: Tally,
    d: int,
    today: Today,
) -> None:
    """Day ``d``'s tests: symptomatic (new onsets, and background symptoms), weekly screening
    on the first school day of each week, and test-to-stay tests due today."""
    sc, epi, n = run.scenario, run.epi, run.groups.n
    if run.active_list:
        onset = epi.active.onsets(epi.t_symptoms, d)
    else:
        onset = np.flatnonzero(epi.t_symptoms == d)
    symptomatic = sc.symptomatic
    if symptomatic.share_tested_by_role:
        chance = np.asarray(symptomatic.shares_by_role())[run.groups.role[onset]]
        onset = onset[run.u(rng.SYMPTOM_TEST, onset) < chance]
    else:
        onset = onset[run.u(rng.SYMPTOM_TEST, onset) < symptomatic.share_tested]
    rate = sc.symptomatic.background_symptoms_per_day
    if rate > 0:
        bg = np.flatnonzero(run.u(rng.BACKGROUND_SYMPTOMS, np.arange(n), d) < rate)
        onset = np.union1d(onset, bg[~today.sym[bg]])
    onset = onset[st.reported[onset] < 0]
    tally.tests_by_day[d] += _test_and_queue(run, st, onset, d, run.symptomatic_test, 1)
    week = dt.date.fromordinal(sc.start.toordinal() + d).isocalendar()[1]
    if run.school_day[d] and week != st.last_week:
        st.last_week = week
        top = top_zip_schools(run, tally.daily_cases_s[:, max(0, d - 7) : d].sum(axis=1))
        used, pools = screen(run, st, d, week, today.isolated, top)
        tally.tests_by_day[d] += used
        tally.pools_used += pools
    ops = run.ops
    if ops.test_to_stay and ops.test_days:
        tts_from = st.tts_from
        due = np.flatnonzero(
            (tts_from >= 0) & np.isin(d - tts_from, np.asarray(ops.test_days)) & (st.reported < 0)
        )
        tally.tests_by_day[d] += _test_and_queue(run, st, due, d, run.tts_test, 3)
        tts_from[(tts_from >= 0) & (d - tts_from > max(ops.test_days))] = -1

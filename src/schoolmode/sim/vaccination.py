"""Immunity in the policy loop: vaccination and prior infection before day 0, and the weekly
vaccination during the run (second doses first, then first doses by role priority)."""

from __future__ import annotations

import numpy as np

from schoolmode.sim import rng
from schoolmode.sim.day_state import DayState
from schoolmode.sim.outcomes import Tally
from schoolmode.sim.setup import RunSetup
from schoolmode.sim.state import NEVER, ROLES


def _share_by_role(run: RunSetup, shares: dict[str, float]) -> np.ndarray:
    share = np.zeros(run.groups.n)
    for role_name, s in shares.items():
        share[run.groups.role == ROLES.index(role_name)] = s
    return share


def _spread_by_school(run: RunSetup, share: np.ndarray, spread: float) -> np.ndarray:
    """Students' shares moved by their school's offset, uniform in [-spread, +spread]
    (``Vaccination.student_school_spread``)."""
    g = run.groups
    offset = spread * (2 * run.u(rng.VACCINE_SCHOOL, np.arange(g.n_schools)) - 1)
    students = g.is_student & g.has_school
    out = share.copy()
    out[students] = np.clip(share[students] + offset[g.school[students]], 0.0, 1.0)
    return out


def before_day0(run: RunSetup, st: DayState) -> None:
    """Agents vaccinated (both doses, protected) and previously infected before day 0: their
    susceptibility is reduced by the vaccine's efficacy and the prior protection."""
    vac, imm = run.scenario.vaccination, run.scenario.immunity
    n = run.groups.n
    susceptibility = run.epi.susceptibility
    if vac.initial_share:
        share = _share_by_role(run, vac.initial_share)
        if vac.student_school_spread > 0:
            share = _spread_by_school(run, share, vac.student_school_spread)
        done = run.u(rng.VACCINE_INITIAL, np.arange(n)) < share
        st.dose1[done] = -vac.dose_interval_days - vac.protection_delay_days
        st.dose2[done] = -vac.protection_delay_days
        susceptibility[done] *= 1 - vac.efficacy
    if imm.prior_infection_share:
        share = _share_by_role(run, imm.prior_infection_share)
        prior = run.u(rng.PRIOR_INFECTION, np.arange(n)) < share
        susceptibility[prior] *= 1 - imm.protection


def vaccinate(run: RunSetup, st: DayState, d: int) -> int:
    """One week's doses on day ``d``: due second doses first, then first doses by the role
    priority (random order within a role). Returns the doses given."""
    vac = run.scenario.vaccination
    dose1, dose2 = st.dose1, st.dose2
    capacity = run.ops.weekly_doses
    due2 = np.flatnonzero((dose2 == NEVER) & (dose1 <= d - vac.dose_interval_days))
    due2 = due2[np.argsort(dose1[due2], kind="stable")][:capacity]
    dose2[due2] = d
    left = capacity - due2.size
    given = due2.size
    if left > 0:
        rank = np.full(run.groups.n, len(ROLES), dtype=np.int64)
        for i, role_name in enumerate(vac.priority):
            rank[run.groups.role == ROLES.index(role_name)] = i
        cand = np.flatnonzero((dose1 == NEVER) & (rank < len(ROLES)) & (rank < len(vac.priority)))
        key = run.u(rng.VACCINE_ORDER, cand)
        cand = cand[np.lexsort((key, rank[cand]))][:left]
        dose1[cand] = d
        given += cand.size
    return int(given)


def vaccination_day(run: RunSetup, st: DayState, tally: Tally, d: int) -> None:
    """Weekly doses (every 7th day), and protection of those whose second dose took effect."""
    vac = run.scenario.vaccination
    if run.ops.weekly_doses and d % 7 == 0:
        tally.doses += vaccinate(run, st, d)
    protected = st.dose2 + vac.protection_delay_days == d
    if protected.any():
        run.epi.susceptibility[protected] *= 1 - vac.efficacy

"""The simulator with the policy engine and the operations in its daily loop: the plan of one
day, each phase in its own room over the run's ``DayState``.

One day ``d``:

1. **Gates** (``gates.py``) from the modes of day ``d`` (decided by the engine after day
   ``d - 1``), the school calendar and each agent's state: a remote district, school or
   classroom closes the school layers of its agents; so do weekends and holidays, isolation,
   quarantine and staying home ill. Isolated agents also lose their community contacts.
2. **Transmission** (``model.Epidemic.transmit``: the numba kernel, layer weights times masking
   multipliers, the step the plain model uses) and importation.
3. **Observation** (``testing.py``): symptomatic tests, weekly screening (staff share, random
   share of consented students, pooled by ``pool_size``), test-to-stay tests; each with its test
   type's sensitivity, specificity, invalid rate (retested the next day) and turnaround.
4. **Operations** on the results reported today (``tracing.py``): isolation of cases, contact
   tracing (homeroom and household, with delay and daily capacity) into quarantine or
   test-to-stay; weekly vaccination (``vaccination.py``: second doses first, then by priority).
5. **Metrics** of day ``d`` per district, school and classroom (``observed.py``: the engine's
   metric names, defined as in ``metrics/school.py``) into the engine; the engine decides day
   ``d + 1``.

What a run knows from the start is in ``setup.py`` (``RunSetup``: groups, operational numbers
in force from ``in_force.py``, calendar, engine), its counters in ``outcomes.py``, its kept
observations in ``records.py``.

Every random decision is a counter-based uniform of its own stream (``rng.py``), keyed by the
agent and day it decides, so two policies on one seed differ only where their rules differ.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl

from schoolmode.engine.settings import Settings
from schoolmode.pathogen import Pathogen
from schoolmode.policy import model as m
from schoolmode.policy.loader import Registry
from schoolmode.sim import rng, seeding
from schoolmode.sim.day_state import DayState
from schoolmode.sim.gates import open_gates
from schoolmode.sim.network import Population
from schoolmode.sim.observed import record_metrics
from schoolmode.sim.outbreaks import run_row
from schoolmode.sim.outcomes import PHASES, LoopResult, Tally
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.setup import RunSetup, setup
from schoolmode.sim.state import NEVER
from schoolmode.sim.testing import observe
from schoolmode.sim.tracing import report, trace
from schoolmode.sim.vaccination import before_day0, vaccination_day


class _Clock:
    """Wall seconds per phase of the day, summed over days."""

    def __init__(self) -> None:
        self.timings = dict.fromkeys(PHASES, 0.0)
        self.clock = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] += now - self.clock
        self.clock = now


def _transmission(run: RunSetup, st: DayState, tally: Tally, d: int, sources: np.ndarray) -> int:
    """Transmission over the open layers and importation on day ``d``; returns the new
    infections."""
    epi, g = run.epi, run.groups
    tally.prevalence[d] = sources.size
    count = epi.transmit(d, sources, run.weights, st.gate, run.beta)
    if count:
        who = epi.out_dst[:count]
        at_school = run.in_school_layer[epi.out_layer[:count]]
        tally.totals["infections_in_school"] += int(at_school.sum())
        np.add.at(tally.school_layer_inf[d], g.school[who[at_school]], 1)
    p_import = run.scenario.importation_per_100k_per_day / 1e5
    if run.import_rates is None and p_import <= 0:
        return count
    factor = run.scenario.importation.factor(d)
    if factor == 0:
        return count
    cand = np.flatnonzero(epi.t_infected == NEVER)
    p_cand = run.import_rates[run.zip_index[cand], d] if run.import_rates is not None else p_import
    if factor != 1:
        p_cand = p_cand * factor
    hit = run.u(rng.IMPORTATION, cand, d) < p_cand * epi.susceptibility[cand]
    imported = cand[hit]
    if imported.size:
        epi.import_infections(imported, d)
        tally.importations += int(imported.size)
    return count + int(imported.size)


def _day(run: RunSetup, st: DayState, tally: Tally, d: int, clock: _Clock) -> None:
    """The plan of day ``d``."""
    today = open_gates(run, st, tally, d)
    clock.lap("gates")
    tally.new_inf[d] += _transmission(run, st, tally, d, today.sources)
    clock.lap("transmission")
    observe(run, st, tally, d, today)
    clock.lap("observation")
    cases = report(run, st, tally, d)
    trace(run, st, d)
    vaccination_day(run, st, tally, d)
    clock.lap("operations")
    engine = run.engine
    if engine is not None:
        record_metrics(run, st, tally, engine, d, cases)
        clock.lap("metrics")
        engine.decide(d)
        clock.lap("engine")


def run_days(run: RunSetup) -> LoopResult:
    """Run a set-up run over its days."""
    sc, g, epi = run.scenario, run.groups, run.epi
    st = DayState.new(len(run.population.network.layers), g.n, g.hh_members[0].size - 1)
    before_day0(run, st)
    first = seeding.initial_agents(epi, sc, run.seed)
    tally = Tally(sc.days, g.n_schools, g.n_rooms)
    clock = _Clock()
    for d in range(sc.days):
        if d == run.seed_day:
            seeding.seed(epi, first, d, sc)
            seeding.seed_recovered(epi, seeding.recovered_agents(epi, sc), d)
            tally.new_inf[d] += first.size
        _day(run, st, tally, d, clock)
    engine = run.engine
    students = int((g.is_student & g.has_school).sum())
    outbreak = run_row(
        epi.origin,
        epi.t_infected,
        epi.t_infectious,
        epi.t_recovered,
        st.reported,
        sc.days,
        (int(first.size), run.seed_day, tally.importations),
        (tally.cases_by_day, tally.prevalence),
        (
            int(tally.schools_remote.sum()),
            int(tally.rooms_remote.sum()),
            int(tally.grades_remote.sum()),
        ),
        (
            students,
            int(run.school_day.sum()),
            int(tally.totals["in_person_student_days"]),
            tally.closed_student_days,
        ),
    )
    return LoopResult(
        policy_id=run.policy.id if run.policy is not None else "none",
        seed=run.seed,
        outcomes=tally.outcomes(g.role, epi.t_infected, epi.origin),
        daily=tally.daily(),
        engine=engine,
        agents=epi.agents,
        school_layer_infections=tally.school_layer_inf,
        gates=run.gates_kept,
        orders=run.orders_kept,
        masked=run.masked_kept,
        records=run.records.frames(st.reported, g.school, g.room) if run.records else None,
        timings=clock.timings,
        beta=run.beta,
        beta_cached=run.beta_cached,
        missing_metrics=sorted(f"{s}.{m_}" for s, m_ in engine.missing) if engine else [],
        outbreak=outbreak,
    )


def run_policy(
    population: Population,
    pathogen: Pathogen,
    scenario: Scenario,
    policy: m.Policy | None,
    seed: int,
    registry: Registry | None = None,
    keep_gates: bool = False,
    keep_records: bool = False,
    school_attributes: Mapping[str, list[str]] | None = None,
    settings: Settings | None = None,
    active_list: bool = True,
    zip_cases: pl.DataFrame | None = None,
    beta_cache: Path | None = None,
) -> LoopResult:
    """One run. ``school_attributes``: attribute name -> one value per school of the
    population (e.g. ``grade_band`` from the profiles, read by CDC K-12 guidance);
    ``settings``: the policy's parameter overrides and interpretation readings, for the engine
    and the operational numbers alike; ``active_list``: infectious agents from an
    ``ActiveSet`` (default) or, as the reference, a mask over all agents each day (tested
    equal); ``zip_cases``: weekly cases by ZIP for ``importation.source: zip-weekly-cases``
    (``community.load_zip_cases``; None: read from the scenario's ``cases_file`` or the shared
    data); ``beta_cache``: the folder of the ``beta: auto`` disk cache (None: memory only)."""
    return run_days(
        setup(
            population,
            pathogen,
            scenario,
            policy,
            seed,
            registry,
            keep_gates,
            keep_records,
            school_attributes,
            settings,
            active_list,
            zip_cases,
            beta_cache,
        )
    )

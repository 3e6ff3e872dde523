"""The initial infections of a policy-loop run (``Scenario.seed_state``): which agents, and at
which stage of their infection on the seed day.

- ``exposed`` (default): the agents with the lowest SEEDING hashes, infected on the seed day.
- ``infectious``: the same agents, their latent period over (``Epidemic.seed_infections``).
- ``staged``: agents already some way into their infection, as an epidemic under way leaves
  them: an agent infected ``k`` days before the seed day is there with a weight ``w(k)``
  (``Scenario.seed_history``: the infections of each earlier day, for example the reported
  cases of the days before the start), if its course (latent, then presymptomatic and
  symptomatic or asymptomatic, the pathogen's durations) is not over by then. Each candidate
  (in SEEDING hash order) draws its course as usual, is kept with a probability in proportion
  to ``W(T) = sum of w(k) for k < T`` (``T`` its course in days: an agent is still infected
  for longer after a longer course), and the kept ones draw ``k`` below ``T`` in proportion to
  ``w(k)``; their course moves ``k`` days earlier. The share seeded in each stage is then the
  share of the stage in the infections still under way (with flat weights, each stage's mean
  duration over the course's: ``stage_days``), and exactly ``initial_infections`` agents are
  seeded. Their ``t_infected`` stays the seed day (the outputs count them from it); those
  whose symptoms began before it are past their onset (reported, if at all, before the run).

Recently recovered seeds (``Scenario.initial_recovered``, ``recovered_agents`` and
``seed_recovered``): the agents with the lowest ``RECOVERED_SEEDING`` hashes among those not
infected by the seed day (the initial infections above left out). Their infectiousness ended just before the seed day: the seed day is their first
day no longer infectious (index 0 of a test type's ``positive_after_infectious``), as the R+
seeds of Colosi et al. 2025 enter that stage at the start of the run. From the seed day they
are not susceptible and never infectious; their origin is ``state.PRIOR``, so the outputs do
not count them as infections of the run, but a positive test of theirs is a reported case.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from schoolmode.pathogen import Duration, Pathogen
from schoolmode.sim import rng
from schoolmode.sim.model import Epidemic, schedule, seed_agents
from schoolmode.sim.scenario import Scenario
from schoolmode.sim.state import NEVER, PRIOR

CANDIDATES_PER_SEED = 8
"""Candidates drawn per seed for ``staged``: the first ``8 * initial_infections`` agents by
hash (each kept with probability ``W(T) / max W``, at least 1 / (the longest course) of it)."""

STAGES = ("latent", "presymptomatic", "symptomatic", "asymptomatic")


def history_weights(history: Sequence[float], days: int) -> np.ndarray:
    """``w(k)`` for ``k`` = 0 .. ``days`` - 1: ``history`` (k = 0: the seed day itself), its
    last value repeated beyond it; flat (all 1) when empty."""
    if not history:
        return np.ones(days)
    given = np.asarray(history, dtype=np.float64)[:days]
    return np.concatenate([given, np.full(max(days - given.size, 0), given[-1])])


def courses(agents: np.ndarray, who: np.ndarray, pathogen: Pathogen, seed: int) -> np.ndarray:
    """The whole days from infection to recovery of ``who`` if infected (their keyed draws,
    ``model.schedule``, on a copy: nothing is scheduled)."""
    scratch = agents.copy()
    schedule(scratch, who, 0, pathogen, seed)
    return np.asarray(scratch["t_recovered"][who], dtype=np.int64)


def initial_agents(epi: Epidemic, scenario: Scenario, seed: int) -> np.ndarray:
    """Sorted agents infected at the start (``scenario.initial_infections`` of them)."""
    n, count = epi.network.n, scenario.initial_infections
    if scenario.seed_state != "staged" or count == 0:
        return seed_agents(n, count, seed)
    keys = rng.uniforms(seed, rng.SEEDING, np.arange(n, dtype=np.int64), 0, 0)
    candidates = np.argsort(keys, kind="stable")[: min(n, CANDIDATES_PER_SEED * count)]
    length = courses(epi.agents, candidates, epi.pathogen, seed)
    cum = np.cumsum(history_weights(scenario.seed_history, int(length.max()) + 1))
    kept_weight = cum[length - 1]
    keep = rng.uniforms(seed, rng.SEED_STAGE_PICK, candidates, 0, 0) * kept_weight.max()
    kept = keep < kept_weight
    chosen = np.concatenate([candidates[kept], candidates[~kept]])[:count]
    return np.sort(chosen)


def recovered_agents(epi: Epidemic, scenario: Scenario) -> np.ndarray:
    """Sorted recently recovered seeds: the ``scenario.initial_recovered`` agents with the
    lowest ``RECOVERED_SEEDING`` hashes among those never infected so far (call on the seed
    day, after ``seed``: the initial infections are left out)."""
    count = scenario.initial_recovered
    if count == 0:
        return np.empty(0, dtype=np.int64)
    n = epi.network.n
    keys = rng.uniforms(epi.seed, rng.RECOVERED_SEEDING, np.arange(n, dtype=np.int64), 0, 0)
    taken = epi.t_infected != NEVER
    keys[taken] = np.inf
    count = min(count, n - int(taken.sum()))
    return np.sort(np.argsort(keys, kind="stable")[:count]).astype(np.int64)


def seed_recovered(epi: Epidemic, who: np.ndarray, day: int) -> None:
    """Make ``who`` recently recovered on ``day``: infectiousness over from ``day`` (their
    first day no longer infectious; no infectious day is recorded, ``t_infectious`` =
    ``t_recovered``), no symptoms in the run, not susceptible (a ``t_infected`` before
    ``day``), origin ``state.PRIOR``."""
    if who.size == 0:
        return
    epi.t_infected[who] = day - 1
    epi.t_infectious[who] = day
    epi.t_recovered[who] = day
    epi.t_symptoms[who] = NEVER
    epi.origin[who] = PRIOR
    epi.write_times(who)


def seed(epi: Epidemic, first: np.ndarray, day: int, scenario: Scenario) -> None:
    """Infect ``first`` on ``day`` in the scenario's ``seed_state``."""
    if scenario.seed_state != "staged":
        epi.seed_infections(first, day, scenario.seed_state == "infectious")
        return
    epi.seed_infections(first, day)
    if first.size == 0:
        return
    length = epi.t_recovered[first] - day
    cum = np.cumsum(history_weights(scenario.seed_history, int(length.max())))
    u = rng.uniforms(epi.seed, rng.SEED_STAGE_AGE, first.astype(np.int64), 0, 0)
    shift = np.searchsorted(cum, u * cum[length - 1], side="right")
    shift = np.minimum(shift, length - 1)
    epi.t_infectious[first] -= shift
    epi.t_recovered[first] -= shift
    sym = epi.t_symptoms[first] != NEVER
    epi.t_symptoms[first[sym]] -= shift[sym]
    epi.write_times(first)


def _pmf(duration: Duration, minimum: int = 0) -> np.ndarray:
    """The whole-day pmf of ``duration`` drawn as ``model.schedule`` draws it (at least
    ``minimum`` days)."""
    pmf = duration.pmf().copy()
    if minimum:
        pmf[minimum] += pmf[:minimum].sum()
        pmf[:minimum] = 0
    return pmf


def stage_days(pathogen: Pathogen, symptomatic_share: float) -> dict[str, float]:
    """The mean days an infection spends in each stage (``STAGES``), as ``model.schedule``
    draws them (a latent period and an asymptomatic one of at least a day)."""
    days = np.arange(len(pathogen.latent.pmf()))
    mean = {
        name: float((_pmf(d, low) * days).sum())
        for name, d, low in (
            ("latent", pathogen.latent, 1),
            ("presymptomatic", pathogen.presymptomatic, 0),
            ("symptomatic", pathogen.symptomatic_infectious, 0),
            ("asymptomatic", pathogen.asymptomatic_infectious, 1),
        )
    }
    return {
        "latent": mean["latent"],
        "presymptomatic": symptomatic_share * mean["presymptomatic"],
        "symptomatic": symptomatic_share * mean["symptomatic"],
        "asymptomatic": (1 - symptomatic_share) * mean["asymptomatic"],
    }


def still_infected(pathogen: Pathogen, symptomatic_share: float, days: int) -> np.ndarray:
    """``S(k)`` for ``k`` = 0 .. ``days`` - 1: the probability that an infection is not over
    ``k`` days after it began (its course longer than ``k``)."""
    latent = _pmf(pathogen.latent, 1)
    sym = np.convolve(
        np.convolve(latent, _pmf(pathogen.presymptomatic)), _pmf(pathogen.symptomatic_infectious)
    )
    asym = np.convolve(latent, _pmf(pathogen.asymptomatic_infectious, 1))
    size = max(sym.size, asym.size, days)
    course = symptomatic_share * np.pad(sym, (0, size - sym.size)) + (
        1 - symptomatic_share
    ) * np.pad(asym, (0, size - asym.size))
    return np.asarray(1 - np.cumsum(course)[:days])


def infected_now(
    pathogen: Pathogen, symptomatic_share: float, daily_infections: Sequence[float]
) -> float:
    """The infections still under way on the seed day, given the infections of each day
    before it (``daily_infections[k]``: ``k`` days before, k = 0 the seed day itself):
    ``sum of I(k) S(k)``."""
    daily = np.asarray(daily_infections, dtype=np.float64)
    return float((daily * still_infected(pathogen, symptomatic_share, daily.size)).sum())

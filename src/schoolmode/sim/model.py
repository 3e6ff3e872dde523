"""The daily loop: gates -> transmission -> progression -> outputs.

Deterministic for a seed: every random decision is a counter-based uniform (``rng.py``), keyed
by what it decides, so the result does not depend on iteration order or on draws made elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from schoolmode.pathogen import Duration, Pathogen
from schoolmode.sim import rng
from schoolmode.sim.kernel import transmit
from schoolmode.sim.network import Network, Population
from schoolmode.sim.state import NEVER, ROLES, ActiveSet, infectious

Gates = Callable[[int], np.ndarray | None]
"""Day -> (layers, agents) bool array of open layer memberships; ``None``: everything open."""


@dataclass(frozen=True)
class SimConfig:
    beta: float
    """Daily transmission hazard of a contact of weight 1 between reference agents."""
    days: int
    seed: int = 0
    initial_infections: int = 10
    """Agents infected on day 0, chosen by the SEEDING stream (lowest hashes)."""


@dataclass(frozen=True)
class SimResult:
    layers: tuple[str, ...]
    new_infections: np.ndarray
    """(days, roles): new infections by day and role of the infected (``state.ROLES``)."""
    new_by_layer: np.ndarray
    """(days, layers): new infections by the layer of the infecting contact (seeds excluded)."""
    infectious: np.ndarray
    """(days,): agents infectious on each day (prevalence of infectiousness)."""
    infected: np.ndarray
    """(days,): agents ever infected by the end of each day."""
    agents: np.ndarray
    """Final agent table with infection times, infector and layer."""

    @property
    def total_by_day(self) -> np.ndarray:
        return np.asarray(self.new_infections.sum(axis=1))


@lru_cache(maxsize=64)
def _cdf(duration: Duration) -> np.ndarray:
    return np.cumsum(duration.pmf())


def sample_days(duration: Duration, u: np.ndarray) -> np.ndarray:
    """Whole days from ``duration`` by inverse CDF of its discretised pmf (cached per duration)."""
    cdf = _cdf(duration)
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.size - 1).astype(np.int32)


def apply_pathogen(agents: np.ndarray, pathogen: Pathogen) -> None:
    sus, sym = pathogen.by_age(agents["age"].astype(np.int64))
    agents["susceptibility"] = sus
    agents["symptomatic_share"] = sym


def schedule(agents: np.ndarray, who: np.ndarray, day: int, pathogen: Pathogen, seed: int) -> None:
    """Schedule the natural history of agents infected on ``day``.

    Draws are keyed by agent only (not by day), so an agent infected in two scenarios on
    different days has the same course.
    """
    who = who.astype(np.int64)
    zero = 0

    def u(stream: int) -> np.ndarray:
        return rng.uniforms(seed, stream, who, zero, zero)

    latent = np.maximum(sample_days(pathogen.latent, u(rng.LATENT)), 1)
    symptomatic = u(rng.SYMPTOMATIC) < agents["symptomatic_share"][who]
    presym = sample_days(pathogen.presymptomatic, u(rng.PRESYMPTOMATIC))
    sym_inf = sample_days(pathogen.symptomatic_infectious, u(rng.SYMPTOMATIC_INFECTIOUS))
    asym_inf = sample_days(pathogen.asymptomatic_infectious, u(rng.ASYMPTOMATIC_INFECTIOUS))
    start = day + latent
    agents["t_infected"][who] = day
    agents["t_infectious"][who] = start
    agents["t_symptoms"][who] = np.where(symptomatic, start + presym, NEVER)
    agents["t_recovered"][who] = np.where(
        symptomatic, start + presym + sym_inf, start + np.maximum(asym_inf, 1)
    )
    agents["infectiousness"][who] = np.where(
        symptomatic, 1.0, pathogen.relative_infectiousness_asymptomatic.value
    )


def seed_agents(n: int, count: int, seed: int) -> np.ndarray:
    keys = rng.uniforms(seed, rng.SEEDING, np.arange(n, dtype=np.int64), 0, 0)
    return np.sort(np.argsort(keys, kind="stable")[:count])


def run(
    population: Population,
    pathogen: Pathogen,
    config: SimConfig,
    gates: Gates | None = None,
    initial: np.ndarray | None = None,
    active_list: bool = True,
) -> SimResult:
    """Simulate ``config.days`` days. ``active_list``: keep the infectious agents in an
    ``ActiveSet`` (default) rather than a mask over all agents each day (the same results,
    tested; the mask is the reference)."""
    agents = population.agents.copy()
    network: Network = population.network
    n, n_layers = network.n, len(network.layers)
    apply_pathogen(agents, pathogen)
    all_open = np.ones((n_layers, n), dtype=np.bool_)
    new_by_role = np.zeros((config.days, len(ROLES)), dtype=np.int64)
    new_by_layer = np.zeros((config.days, n_layers), dtype=np.int64)
    prevalence = np.zeros(config.days, dtype=np.int64)
    ever = np.zeros(config.days, dtype=np.int64)
    out_dst = np.empty(n, dtype=np.int64)
    out_src = np.empty(n, dtype=np.int64)
    out_layer = np.empty(n, dtype=np.int64)
    t_infected = np.ascontiguousarray(agents["t_infected"])

    first = (
        initial if initial is not None else seed_agents(n, config.initial_infections, config.seed)
    )
    first = np.asarray(first)
    schedule(agents, first, 0, pathogen, config.seed)
    t_infected[first] = 0
    np.add.at(new_by_role[0], agents["role"][first].astype(np.int64), 1)
    # contiguous copies of what is read every day, updated when agents are scheduled
    t_infectious = np.ascontiguousarray(agents["t_infectious"], dtype=np.int64)
    t_recovered = np.ascontiguousarray(agents["t_recovered"], dtype=np.int64)
    infectiousness = np.ascontiguousarray(agents["infectiousness"], dtype=np.float64)
    active = ActiveSet(t_infectious, t_recovered)
    active.add(first.astype(np.int64))
    cumulative = int(np.unique(first).size)

    susceptibility = np.ascontiguousarray(agents["susceptibility"], dtype=np.float64)
    for day in range(config.days):
        gate = gates(day) if gates is not None else None
        gate = all_open if gate is None else gate
        sources = active.advance(day) if active_list else np.flatnonzero(infectious(agents, day))
        prevalence[day] = sources.size
        count = transmit(
            day,
            config.seed,
            sources,
            infectiousness,
            susceptibility,
            t_infected,
            network.indptr,
            network.indices,
            network.weights,
            gate,
            config.beta,
            out_dst,
            out_src,
            out_layer,
        )
        if count:
            who = out_dst[:count]
            schedule(agents, who, day, pathogen, config.seed)
            t_infectious[who] = agents["t_infectious"][who]
            t_recovered[who] = agents["t_recovered"][who]
            infectiousness[who] = agents["infectiousness"][who]
            active.add(who)
            agents["infector"][who] = out_src[:count]
            agents["layer"][who] = out_layer[:count]
            np.add.at(new_by_role[day], agents["role"][who].astype(np.int64), 1)
            new_by_layer[day] += np.bincount(out_layer[:count], minlength=n_layers)
        cumulative += count
        ever[day] = cumulative
    return SimResult(
        layers=network.layers,
        new_infections=new_by_role,
        new_by_layer=new_by_layer,
        infectious=prevalence,
        infected=ever,
        agents=agents,
    )

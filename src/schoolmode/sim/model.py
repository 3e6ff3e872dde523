"""The plain model: the infection state of a run (``Epidemic``, shared with the policy loop)
and its daily loop, gates -> transmission -> progression -> outputs.

Deterministic for a seed: every random decision is a counter-based uniform (``rng.py``), keyed
by what it decides, so the result does not depend on iteration order or on draws made elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from schoolmode.pathogen import Duration, Pathogen
from schoolmode.sim import rng
from schoolmode.sim.kernel import transmit
from schoolmode.sim.network import Network, Population
from schoolmode.sim.state import IMPORTED, NEVER, NO_ORIGIN, ROLES, SEEDED, ActiveSet

Sampling = Literal["contact", "skip"]
SAMPLINGS: tuple[Sampling, ...] = ("contact", "skip")

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
    sampling: Sampling = "skip"
    """How transmission draws its uniforms (``kernel.transmit``): ``"skip"`` (the default),
    only the contacts that may transmit, by geometric gaps (about 1.8x faster at 1,000,000
    agents); ``"contact"``, one per contact of an infectious agent (the default before
    2026-12-04). The same law, other draws; both keep the common random numbers of two
    policies on one seed."""

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, not {self.sampling!r}")


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
    band = pathogen.infectiousness_by_age(agents["age"][who].astype(np.int64))
    agents["infectiousness"][who] = band * np.where(
        symptomatic, 1.0, np.float32(pathogen.relative_infectiousness_asymptomatic.value)
    )


@rng.jit
def _days(cdf: np.ndarray, u: float) -> int:
    """``sample_days`` of one uniform."""
    return min(int(np.searchsorted(cdf, u, side="right")), cdf.size - 1)


@rng.jit
def _schedule(
    who: np.ndarray,
    day: int,
    seed: int,
    latent_cdf: np.ndarray,
    presym_cdf: np.ndarray,
    sym_cdf: np.ndarray,
    asym_cdf: np.ndarray,
    asym_infectiousness: float,
    band_infectiousness: np.ndarray,
    symptomatic_share: np.ndarray,
    t_infected: np.ndarray,
    t_infectious: np.ndarray,
    t_symptoms: np.ndarray,
    t_recovered: np.ndarray,
    infectiousness: np.ndarray,
    c_infectious: np.ndarray,
    c_symptoms: np.ndarray,
    c_recovered: np.ndarray,
    c_infectiousness: np.ndarray,
) -> None:
    """``schedule`` agent by agent: the same uniforms and days, written to the agent table's
    fields and to the contiguous copies (``c_*``). ``band_infectiousness``: each agent's age
    band's relative infectiousness (``Pathogen.infectiousness_by_age``)."""
    never = NEVER
    for i in range(who.shape[0]):
        w = who[i]
        latent = max(_days(latent_cdf, rng.uniform(seed, rng.LATENT, w, 0, 0)), 1)
        sym = rng.uniform(seed, rng.SYMPTOMATIC, w, 0, 0) < float(symptomatic_share[w])
        presym = _days(presym_cdf, rng.uniform(seed, rng.PRESYMPTOMATIC, w, 0, 0))
        sym_inf = _days(sym_cdf, rng.uniform(seed, rng.SYMPTOMATIC_INFECTIOUS, w, 0, 0))
        asym_inf = _days(asym_cdf, rng.uniform(seed, rng.ASYMPTOMATIC_INFECTIOUS, w, 0, 0))
        start = day + latent
        onset = start + presym if sym else never
        end = start + presym + sym_inf if sym else start + max(asym_inf, 1)
        # as the agent table's float32 (``schedule``'s product, rounded once)
        rel = float(np.float32(band_infectiousness[w] * (1.0 if sym else asym_infectiousness)))
        t_infected[w] = day
        t_infectious[w] = start
        t_symptoms[w] = onset
        t_recovered[w] = end
        infectiousness[w] = rel
        c_infectious[w] = start
        c_symptoms[w] = onset
        c_recovered[w] = end
        c_infectiousness[w] = rel


def seed_agents(n: int, count: int, seed: int) -> np.ndarray:
    keys = rng.uniforms(seed, rng.SEEDING, np.arange(n, dtype=np.int64), 0, 0)
    if count >= n:
        return np.arange(n, dtype=np.int64)
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    # the ``count`` lowest keys, ties to the lowest index (= a stable argsort's first
    # ``count``) without sorting all keys
    kth = np.partition(keys, count - 1)[count - 1]
    below = np.flatnonzero(keys < kth)
    at = np.flatnonzero(keys == kth)[: count - below.size]
    return np.sort(np.concatenate([below, at]))


class Epidemic:
    """The infection state of one run, shared by the plain model (``run``) and the policy loop
    (``loop.py``): the agent table, contiguous copies of the fields read every day (the
    structured array's are strided), the active set and the kernel's output buffers."""

    def __init__(self, population: Population, pathogen: Pathogen, seed: int) -> None:
        agents = population.agents.copy()
        apply_pathogen(agents, pathogen)
        self.agents = agents
        self.pathogen = pathogen
        self.seed = seed
        self.network: Network = population.network
        n = self.network.n
        self.t_infected = np.ascontiguousarray(agents["t_infected"])
        self.susceptibility = np.ascontiguousarray(agents["susceptibility"], dtype=np.float64)
        self.t_infectious = np.ascontiguousarray(agents["t_infectious"], dtype=np.int64)
        self.t_symptoms = np.ascontiguousarray(agents["t_symptoms"], dtype=np.int64)
        self.t_recovered = np.ascontiguousarray(agents["t_recovered"], dtype=np.int64)
        self.infectiousness = np.ascontiguousarray(agents["infectiousness"], dtype=np.float64)
        """Each agent's infectiousness after symptom onset (asymptomatic: throughout): its age
        band's times its course's (``schedule``)."""
        self.band_infectiousness = pathogen.infectiousness_by_age(
            agents["age"].astype(np.int64)
        ).astype(np.float64)
        self.presymptomatic_factor = pathogen.presymptomatic_factor
        """Infectiousness before onset relative to after it (``Pathogen``): applied day by
        day to the sources before their onset day (``infectiousness_on``)."""
        self._today = self.infectiousness.copy()
        """The kernel's infectiousness of the day's sources (``infectiousness_on``); other
        agents' entries are stale and never read."""
        self.active = ActiveSet(self.t_infectious, self.t_recovered)
        self.origin = np.full(n, NO_ORIGIN, dtype=np.int8)
        """Origin of each infection (``state.SEEDED``: the chain of the initial infections,
        ``state.IMPORTED``: an importation or its chain; ``NO_ORIGIN``: never infected):
        inherited from the infector, so the chains are told apart at any day."""
        self.presence = np.ones((2, n), dtype=np.float64)
        """Share of the day each agent is there in the layers of ``presence_row`` (row 0: the
        in-school layers, row 1: the community; ``kernel.transmit``); 1 but on the day a
        measure starts (the policy loop, ``gates.py``)."""
        self.presence_row = np.full(len(self.network.layers), -1, dtype=np.int64)
        """Per layer, the ``presence`` row it reads (-1: whole days, the plain model's)."""
        self.school_of = np.empty(0, dtype=np.int64)
        self.school_scale = np.empty((len(self.network.layers), 0), dtype=np.float64)
        """Masking decided by a policy (``kernel.transmit``): each agent's school and, per layer
        and school, the day's transmission multiplier; no columns (the default): none."""
        self.out_dst = np.empty(n, dtype=np.int64)
        self.out_src = np.empty(n, dtype=np.int64)
        self.out_layer = np.empty(n, dtype=np.int64)
        self.sampling: Sampling = "skip"
        """Transmission's draws (``SimConfig.sampling``)."""
        self.weight_bound: np.ndarray | None = None
        """Per layer, the largest weight any policy gives it (``kernel.transmit``'s
        ``bounds``: the skip draws' gap law); None: the weights of each call."""
        self.sus_bound = 0.0
        """Largest susceptibility seen at any call (``kernel.transmit``'s ``max_sus``).
        Susceptibility only falls during a run (vaccination), so this stays its value at the
        first call: the skip draws' gap law does not move with whom a policy vaccinates."""

    def schedule(self, who: np.ndarray, day: int) -> None:
        """Natural history of agents infected on ``day`` (the same as ``schedule``, tested, in
        one numba pass), mirrored into the contiguous arrays and the active set."""
        a = self.agents
        who = np.asarray(who).astype(np.int64)
        p = self.pathogen
        _schedule(
            who,
            day,
            self.seed,
            _cdf(p.latent),
            _cdf(p.presymptomatic),
            _cdf(p.symptomatic_infectious),
            _cdf(p.asymptomatic_infectious),
            float(np.float32(p.relative_infectiousness_asymptomatic.value)),
            self.band_infectiousness,
            a["symptomatic_share"],
            a["t_infected"],
            a["t_infectious"],
            a["t_symptoms"],
            a["t_recovered"],
            a["infectiousness"],
            self.t_infectious,
            self.t_symptoms,
            self.t_recovered,
            self.infectiousness,
        )
        self.active.add(who)

    def seed_infections(self, first: np.ndarray, day: int = 0, infectious: bool = False) -> None:
        """Infect ``first`` on ``day``: the seeded chain. ``infectious``: their latent period
        is already over (they transmit on ``day``; symptoms and recovery move earlier by the
        same days, so the rest of their natural history keeps its drawn lengths)."""
        self.schedule(first, day)
        self.t_infected[first] = day
        self.origin[first] = SEEDED
        if not infectious or first.size == 0:
            return
        shift = self.t_infectious[first] - day
        self.t_infectious[first] -= shift
        self.t_recovered[first] -= shift
        sym = first[self.t_symptoms[first] != NEVER]
        self.t_symptoms[sym] -= shift[self.t_symptoms[first] != NEVER]
        self.write_times(first)

    def write_times(self, who: np.ndarray) -> None:
        """Copy the event times of ``who`` from the contiguous arrays, where they were moved,
        to the agent table."""
        a = self.agents
        for name in ("t_infected", "t_infectious", "t_symptoms", "t_recovered"):
            a[name][who] = getattr(self, name)[who]

    def import_infections(self, who: np.ndarray, day: int) -> None:
        """Infect ``who`` from outside the population on ``day``: each starts a chain of its
        own, counted apart from the seeded chain."""
        self.schedule(who, day)
        self.t_infected[who] = day
        self.origin[who] = IMPORTED

    def sources(self, day: int, active_list: bool) -> np.ndarray:
        """Sorted agents infectious on ``day``: from the active set (call once per day, in
        order) or, as the reference, a mask over all agents."""
        if active_list:
            return self.active.advance(day)
        return np.flatnonzero((self.t_infectious <= day) & (day < self.t_recovered))

    def infectiousness_on(self, day: int, sources: np.ndarray) -> np.ndarray:
        """The infectiousness the kernel reads on ``day`` for ``sources`` (infectious that
        day): ``infectiousness`` times ``presymptomatic_factor`` for the symptomatic
        sources before their onset day (``t_symptoms > day``; the onset day is a day after
        onset). Natural history only, no policy: the skip draws' gap law at a source's
        largest force stays one that no policy moves (``kernel.transmit``). Vectorised over
        the day's sources; without the factor, ``infectiousness`` itself."""
        if self.presymptomatic_factor == 1.0:
            return self.infectiousness
        today = self._today
        onset = self.t_symptoms[sources]
        today[sources] = np.where(
            (day < onset) & (onset != NEVER),
            self.infectiousness[sources] * self.presymptomatic_factor,
            self.infectiousness[sources],
        )
        return today

    def transmit(
        self, day: int, sources: np.ndarray, weights: np.ndarray, gate: np.ndarray, beta: float
    ) -> int:
        """One day of transmission over the open layers (``kernel.transmit``): schedules the
        newly infected and records their infector and layer; returns how many (the first
        ``count`` of ``out_dst`` / ``out_layer``)."""
        if self.susceptibility.size:
            self.sus_bound = max(self.sus_bound, float(self.susceptibility.max()))
        count = transmit(
            day,
            self.seed,
            sources,
            self.infectiousness_on(day, sources),
            self.susceptibility,
            self.t_infected,
            self.network.indptr,
            self.network.indices,
            weights,
            gate,
            beta,
            self.presence,
            self.presence_row,
            self.school_of,
            self.school_scale,
            self.out_dst,
            self.out_src,
            self.out_layer,
            self.sampling == "skip",
            weights if self.weight_bound is None else self.weight_bound,
            self.sus_bound,
        )
        if count:
            who = self.out_dst[:count]
            self.schedule(who, day)
            self.agents["infector"][who] = self.out_src[:count]
            self.agents["layer"][who] = self.out_layer[:count]
            self.origin[who] = self.origin[self.out_src[:count]]
        return int(count)


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
    epi = Epidemic(population, pathogen, config.seed)
    epi.sampling = config.sampling
    agents, network = epi.agents, epi.network
    n, n_layers = network.n, len(network.layers)
    all_open = np.ones((n_layers, n), dtype=np.bool_)
    new_by_role = np.zeros((config.days, len(ROLES)), dtype=np.int64)
    new_by_layer = np.zeros((config.days, n_layers), dtype=np.int64)
    prevalence = np.zeros(config.days, dtype=np.int64)
    ever = np.zeros(config.days, dtype=np.int64)
    first = (
        initial if initial is not None else seed_agents(n, config.initial_infections, config.seed)
    )
    first = np.asarray(first)
    epi.seed_infections(first)
    np.add.at(new_by_role[0], agents["role"][first].astype(np.int64), 1)
    cumulative = int(np.unique(first).size)
    for day in range(config.days):
        gate = gates(day) if gates is not None else None
        gate = all_open if gate is None else gate
        sources = epi.sources(day, active_list)
        prevalence[day] = sources.size
        count = epi.transmit(day, sources, network.weights, gate, config.beta)
        if count:
            who = epi.out_dst[:count]
            np.add.at(new_by_role[day], agents["role"][who].astype(np.int64), 1)
            new_by_layer[day] += np.bincount(epi.out_layer[:count], minlength=n_layers)
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

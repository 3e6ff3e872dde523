"""Agent state: one structured numpy array (one dtype table), event times as day numbers.

An agent's natural history is scheduled when it is infected: day of infection, start of
infectiousness, symptom onset (``NEVER`` if asymptomatic) and recovery. The compartment on a day
is a mask over these times, so progression needs no per-day update.
"""

from __future__ import annotations

import numpy as np

NEVER = np.iinfo(np.int32).max
"""Event time of an event that has not happened and is not scheduled."""

ROLES = ("student", "classroom_teacher", "other_staff", "household_adult")
STUDENT, TEACHER, OTHER_STAFF, ADULT = range(len(ROLES))
"""Indexes of the roles in ``ROLES``."""

NO_ORIGIN, SEEDED, IMPORTED = -1, 0, 1
"""Origin of an infection (``model.Epidemic.origin``): none (never infected), the chain of the
initial infections, or an importation from outside the population and its chain."""
PRIOR = -2
"""Origin of a recently recovered seed (``Scenario.initial_recovered``): infected before the
run, not one of its infections."""

AGENT_DTYPE = np.dtype(
    [
        ("age", np.int16),
        ("role", np.int8),  # index into ROLES
        ("school", np.int32),  # -1: none
        ("classroom", np.int32),  # -1: none
        ("household", np.int32),  # -1: none
        ("susceptibility", np.float32),  # relative, by age (pathogen)
        ("symptomatic_share", np.float32),  # by age (pathogen)
        ("t_infected", np.int32),
        ("t_infectious", np.int32),
        ("t_symptoms", np.int32),
        ("t_recovered", np.int32),
        ("infectiousness", np.float32),  # relative, 1 symptomatic, <1 asymptomatic
        ("infector", np.int32),  # -1: seeded or never infected
        ("layer", np.int8),  # layer of the infecting contact, -1: seeded or never infected
    ]
)


def new_agents(n: int) -> np.ndarray:
    agents = np.zeros(n, dtype=AGENT_DTYPE)
    for name in ("school", "classroom", "household", "infector", "layer"):
        agents[name] = -1
    for name in ("t_infected", "t_infectious", "t_symptoms", "t_recovered"):
        agents[name] = NEVER
    agents["susceptibility"] = 1.0
    agents["symptomatic_share"] = 1.0
    return agents


def susceptible(agents: np.ndarray) -> np.ndarray:
    return np.asarray(agents["t_infected"] == NEVER)


def exposed(agents: np.ndarray, day: int) -> np.ndarray:
    return np.asarray((agents["t_infected"] <= day) & (day < agents["t_infectious"]))


def infectious(agents: np.ndarray, day: int) -> np.ndarray:
    return np.asarray((agents["t_infectious"] <= day) & (day < agents["t_recovered"]))


def symptomatic(agents: np.ndarray, day: int) -> np.ndarray:
    return np.asarray((agents["t_symptoms"] <= day) & (day < agents["t_recovered"]))


def recovered(agents: np.ndarray, day: int) -> np.ndarray:
    return np.asarray(agents["t_recovered"] <= day)


class ActiveSet:
    """Agents infectious on the current day, kept incrementally instead of a mask over all
    agents each day: an agent enters on its ``t_infectious`` and leaves on its
    ``t_recovered``. ``add`` the agents scheduled each day (their event times must already be
    in ``t_infectious`` / ``t_recovered``, which the caller keeps up to date), then call
    ``advance(day)`` once per day in increasing order: it returns exactly
    ``np.flatnonzero(infectious(agents, day))`` (sorted agent ids) at the cost of the agents
    infected recently, not of the population."""

    def __init__(self, t_infectious: np.ndarray, t_recovered: np.ndarray) -> None:
        self.t_infectious = t_infectious
        self.t_recovered = t_recovered
        self.pending = np.empty(0, dtype=np.int64)
        self.active = np.empty(0, dtype=np.int64)
        self.left = np.empty(0, dtype=np.int64)
        """Agents whose infectious period ended on the last ``advance`` day (or began and
        ended on it): with ``active``, every agent whose symptoms can start that day."""

    def add(self, who: np.ndarray) -> None:
        if who.size:
            self.pending = np.concatenate([self.pending, who.astype(np.int64)])

    def advance(self, day: int) -> np.ndarray:
        ends = self.t_recovered[self.active] <= day
        ready = self.t_infectious[self.pending] <= day
        enter = self.pending[ready]
        self.pending = self.pending[~ready]
        alive = self.t_recovered[enter] > day
        self.left = np.concatenate([self.active[ends], enter[~alive]])
        # two sorted runs: a stable sort (timsort) merges them in linear time
        self.active = np.sort(
            np.concatenate([self.active[~ends], np.sort(enter[alive])]),
            kind="stable",
        )
        return self.active

    def onsets(self, t_symptoms: np.ndarray, day: int) -> np.ndarray:
        """Sorted agents whose symptoms start on ``day`` (= ``np.flatnonzero(t_symptoms ==
        day)``): symptoms start within the infectious period or on its last day."""
        cand = np.concatenate([self.active, self.left])
        return np.sort(cand[t_symptoms[cand] == day])

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

"""The mutable state of one run of the policy loop, carried from day to day (``DayState``), and
what the gates of one day leave for the rest of that day (``Today``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from schoolmode.sim.state import NEVER

LONG_AGO = -(10**6)
"""Day number of an event that never happened, for "days since" comparisons."""


@dataclass
class DayState:
    """Per-agent orders, reports, attendance and doses, the test results waiting for their day
    and the cases waiting to be traced."""

    gate: np.ndarray
    """(layers, agents) bool: today's open layer memberships (rewritten each day)."""
    iso_until: np.ndarray
    """Isolated while ``day < iso_until``."""
    quar_until: np.ndarray
    """Quarantined while ``day < quar_until``."""
    tts_from: np.ndarray
    """Day 0 of a test-to-stay contact (-1: none)."""
    reported: np.ndarray
    """Day the agent was reported a case (-1: never)."""
    last_attended: np.ndarray
    """Last day the agent attended school."""
    hh_last_case: np.ndarray
    """(households,): last day a case was reported in the household."""
    dose1: np.ndarray
    dose2: np.ndarray
    results: dict[int, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    """Result day -> (agents, positive) batches."""
    trace_queue: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)
    """(due day, cases, each case's last day in school) batches."""
    last_week: int = -1
    """ISO week of the last screening."""
    partial: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """Agents there for part of the day (``Epidemic.presence`` below 1), reset the next day."""

    @classmethod
    def new(cls, n_layers: int, n: int, n_households: int) -> DayState:
        return cls(
            gate=np.ones((n_layers, n), dtype=np.bool_),
            iso_until=np.zeros(n, dtype=np.int64),
            quar_until=np.zeros(n, dtype=np.int64),
            tts_from=np.full(n, -1, dtype=np.int64),
            reported=np.full(n, -1, dtype=np.int64),
            last_attended=np.full(n, LONG_AGO, dtype=np.int64),
            hh_last_case=np.full(n_households, LONG_AGO, dtype=np.int64),
            dose1=np.full(n, NEVER, dtype=np.int64),
            dose2=np.full(n, NEVER, dtype=np.int64),
        )

    def queue(self, who: np.ndarray, result_day: np.ndarray, positive: np.ndarray) -> None:
        """Results of ``who`` (``positive``) to arrive on their ``result_day``."""
        for d in np.unique(result_day):
            sel = result_day == d
            self.results.setdefault(int(d), []).append((who[sel], positive[sel]))


@dataclass(frozen=True)
class Today:
    """What the gates of day ``d`` found."""

    sources: np.ndarray
    """Sorted infectious agents."""
    sym: np.ndarray
    """(agents,) bool: symptomatic."""
    isolated: np.ndarray
    quarantined: np.ndarray

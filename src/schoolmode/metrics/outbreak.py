"""The IDPH/CSTE school outbreak definition, in one place, with its numbers from the dated
parameters of the outbreak policy (``idph-outbreak-2021-10-15``).

A core group (a homeroom: its students and classroom teachers) is in an outbreak on day ``d``
when its qualifying cases (not household-linked, dated by onset, else specimen, else report)
within days ``d - window_days .. d`` reach ``outbreak_min_cases``, or, where the rule has a
percentage prong (from 2021-10-15), reach ``prong1_min_cases`` and ``prong1_share_pct`` % of
the group. :func:`rule_in_force` gives the numbers of a date; :func:`meets_definition` applies
them to counts of any shape (numpy, vectorised). Used by ``metrics/school.py`` (the
``in_outbreak`` metric: the CSTE definition, :data:`CSTE_FROM`), ``operations/tracing.py``
``outbreaks`` (the rule in force on each case date) and the simulator's loop.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from schoolmode.policy.loader import (
    POLICY_FILE,
    default_policy_dir,
    read_file,
    shipped_registry,
)
from schoolmode.policy.model import Policy
from schoolmode.policy.values import number, parameter

OUTBREAK = "idph-outbreak-2021-10-15"
CSTE_FROM = dt.date(2021, 10, 15)
"""The day IDPH adopted the CSTE definition: the ``in_outbreak`` metric's reading."""


@dataclass(frozen=True)
class OutbreakRule:
    """The outbreak definition's numbers in force on a date."""

    window_days: int
    """Cases in days ``d - window_days .. d`` count on day ``d``."""
    min_cases: int
    share_pct: float | None
    """The percentage prong's share of the group (None: no percentage prong)."""
    share_min_cases: int | None


def rule_in_force(policy: Policy, on: dt.date) -> OutbreakRule:
    """The outbreak policy's definition in force on ``on``."""
    share = parameter(policy, "prong1_share_pct", on)
    return OutbreakRule(
        window_days=int(number(policy, "window_days", on)),
        min_cases=int(number(policy, "outbreak_min_cases", on)),
        share_pct=None if share is None else float(str(share)),
        share_min_cases=None if share is None else int(number(policy, "prong1_min_cases", on)),
    )


def rule_periods(policy: Policy) -> list[tuple[dt.date, OutbreakRule]]:
    """(first day, rule) of each period in which the definition's numbers are constant."""
    breaks = sorted({v.from_ for p in policy.parameters.values() for v in p.values})
    return [(day, rule_in_force(policy, day)) for day in breaks]


@lru_cache(maxsize=1)
def cste_rule() -> OutbreakRule:
    """The CSTE definition (:data:`CSTE_FROM`) of the shipped outbreak policy."""
    item = read_file(default_policy_dir() / OUTBREAK / POLICY_FILE)  # one file, not the registry
    policy = item if isinstance(item, Policy) else shipped_registry().get(OUTBREAK).policy
    return rule_in_force(policy, CSTE_FROM)


def meets_definition(
    in_window: np.ndarray, group_size: np.ndarray, rule: OutbreakRule
) -> np.ndarray:
    """(same shape) bool: whether ``in_window`` qualifying cases in a group of ``group_size``
    (a NaN size: the percentage prong does not apply) make an outbreak under ``rule``."""
    outbreak = np.asarray(in_window >= rule.min_cases)
    if rule.share_pct is not None and rule.share_min_cases is not None:
        outbreak = outbreak | (
            (in_window >= rule.share_min_cases) & (in_window * 100 >= group_size * rule.share_pct)
        )
    return outbreak


def meets_on_dates(
    dates: np.ndarray,
    in_window: np.ndarray,
    group_size: np.ndarray,
    periods: list[tuple[dt.date, OutbreakRule]],
) -> np.ndarray:
    """:func:`meets_definition` with the rule in force on each of ``dates`` (datetime64[D];
    ``periods`` from :func:`rule_periods`; a date before the first period meets nothing)."""
    meets = np.zeros(dates.shape, dtype=bool)
    for k, (day, rule) in enumerate(periods):
        sel = dates >= np.datetime64(day)
        if k + 1 < len(periods):
            sel &= dates < np.datetime64(periods[k + 1][0])
        meets[sel] = meets_definition(in_window[sel], group_size[sel], rule)
    return meets

"""Statistics over seeds: means, 95% percentile intervals, paired differences, daily bands.

Intervals are percentile intervals over seeds (the 2.5th and 97.5th percentiles). Every policy
runs on the same seeds with common random numbers, so the paired difference A - B (per seed,
then summarised) isolates the effect of their rules and has a much narrower interval than
either mean.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from schoolmode.policy.errors import SchoolmodeError
from schoolmode.sim.outcomes import OUTCOMES

LOW, HIGH = 2.5, 97.5
"""The percentiles bounding a 95% interval."""


def band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per day of a (seeds, days) array: the mean and the 95% percentile interval."""
    lo, hi = np.percentile(values, [LOW, HIGH], axis=0)
    return values.mean(axis=0), lo, hi


def interval(values: np.ndarray) -> tuple[float, float, float]:
    """The mean of ``values`` and their 95% percentile interval."""
    return (
        float(values.mean()),
        float(np.percentile(values, LOW)),
        float(np.percentile(values, HIGH)),
    )


def summarise(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Mean and 95% percentile interval over seeds, per policy and outcome."""
    rows = []
    for policy in outcomes["policy"].unique(maintain_order=True).to_list():
        part = outcomes.filter(pl.col("policy") == policy)
        for name in OUTCOMES:
            mean, lo, hi = interval(part[name].to_numpy())
            rows.append({"policy": policy, "outcome": name, "mean": mean, "lo": lo, "hi": hi})
    return pl.DataFrame(rows)


def paired_difference(outcomes: pl.DataFrame, a: str, b: str) -> pl.DataFrame:
    """A - B per seed (common random numbers), its mean and 95% percentile interval."""
    left = outcomes.filter(pl.col("policy") == a).sort("seed")
    right = outcomes.filter(pl.col("policy") == b).sort("seed")
    if left["seed"].to_list() != right["seed"].to_list():
        raise SchoolmodeError(f"policies {a} and {b} were not run on the same seeds")
    rows = []
    for name in OUTCOMES:
        diff = left[name].to_numpy() - right[name].to_numpy()
        mean, lo, hi = interval(diff)
        rows.append({"outcome": name, "mean": mean, "lo": lo, "hi": hi})
    return pl.DataFrame(rows)

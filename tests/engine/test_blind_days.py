"""``evaluate._blind_days`` (the unit-days whose mode rests on a day without the rule's
inputs) against the or-accumulation it is defined by, on random inputs, notices that map
several days to one start (school days) and starts off the axis."""

from __future__ import annotations

import numpy as np
import pytest

from schoolmode.engine.evaluate import _blind_days


def _reference(known: np.ndarray, start_at: np.ndarray) -> np.ndarray:
    units, days = known.shape
    blind = np.zeros((units, days), dtype=bool)
    for t in range(days):
        if 0 <= start_at[t] < days:
            blind[:, start_at[t]] |= ~known[:, t]
    return blind


@pytest.mark.parametrize("seed", range(80))
def test_blind_days_are_the_unknown_days_moved_to_their_start(seed: int) -> None:
    rng = np.random.default_rng(seed)
    units, days = int(rng.integers(0, 6)), int(rng.integers(1, 30))
    known = rng.random((units, days)) < rng.choice([0.0, 0.5, 0.9, 1.0])
    start_at = np.arange(days) + rng.integers(-1, 4, days)
    if rng.random() < 0.5:  # school days of notice: several days share the next school day
        start_at = np.maximum.accumulate(start_at + rng.integers(0, 3, days))
    if rng.random() < 0.3:
        start_at = rng.permutation(start_at)
    got = _blind_days(known, start_at)
    assert got.shape == (units, days)
    assert np.array_equal(got, _reference(known, start_at))

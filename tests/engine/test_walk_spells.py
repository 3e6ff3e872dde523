"""The compiled walk of ``run_spells`` (each unit over its days) gives the spells of the walk
vectorised over units (``run_spells_vectorised``; ``run_spells`` walks compiled when numba is
loaded, as here), on random triggers, exits, notices,
minimum and maximum durations (some past the horizon), authorisations and return notices."""

from __future__ import annotations

import sys

import numba  # noqa: F401  (loaded: run_spells takes the compiled walk)
import numpy as np
import pytest

from schoolmode.engine.states import NEVER, run_spells, run_spells_vectorised


def _ends(rng: np.random.Generator, days: int, low: int, high: int) -> np.ndarray:
    out = np.arange(days, dtype=np.int64) + rng.integers(low, high, days)
    out[rng.random(days) < 0.1] = NEVER
    return out


@pytest.mark.parametrize("seed", range(150))
def test_the_compiled_walk_gives_the_vectorised_spells(seed: int) -> None:
    rng = np.random.default_rng(seed)
    units, days = int(rng.integers(1, 9)), int(rng.integers(1, 40))
    trigger = rng.random((units, days)) < rng.choice([0.0, 0.05, 0.2, 0.6])
    exit_ok = rng.random((units, days)) < rng.choice([0.1, 0.5, 1.0])
    start_at = _ends(rng, days, 1, 4)
    min_end = _ends(rng, days, 0, 8)
    max_end = _ends(rng, days, 3, 15) if rng.random() < 0.7 else np.full(days, NEVER)
    automatic = bool(rng.random() < 0.6)
    authorised = rng.random((units, days)) < 0.15 if not automatic or rng.random() < 0.3 else None
    return_at = _ends(rng, days, 1, 4) if rng.random() < 0.5 else None
    args = (trigger, exit_ok, start_at, min_end, max_end, authorised, automatic, return_at)
    assert "numba" in sys.modules
    got, want = run_spells(*args), run_spells_vectorised(*args)
    assert np.array_equal(got.in_effect, want.in_effect)
    assert np.array_equal(got.started, want.started)
    assert np.array_equal(got.earliest_end, want.earliest_end)
    assert got.started.dtype == want.started.dtype == np.int32


def test_a_spell_is_walked() -> None:
    """Not every case is empty: a trigger on day 1 with a day of notice, two days' minimum and
    the trigger gone, a spell on days 2 and 3."""
    trigger = np.array([[False, True, False, False, False, False]])
    days = np.arange(6, dtype=np.int64)
    spells = run_spells(trigger, ~trigger, days + 1, days + 2, np.full(6, NEVER))
    assert spells.in_effect.tolist() == [[False, False, True, True, False, False]]
    assert spells.started.tolist() == [[-1, -1, 2, 2, -1, -1]]

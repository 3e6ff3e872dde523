"""Counter-based random numbers: a uniform in [0, 1) is a hash of its coordinates.

``uniform(seed, stream, a, b, c)`` mixes the five 64-bit integers with the SplitMix64 finaliser
(Steele, Lea and Flood 2014), with the constants of :mod:`schoolmode.draws` (whose numpy
``uniform_at`` is the reference this kernel is tested against). Each named random decision has
its own stream id; the other coordinates say *which* decision (day, agent, neighbour). A draw therefore never depends on how
many other draws were made before it, so two scenarios on the same seed see the same number for
every decision both make (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np

from schoolmode.draws import GOLDEN, INV_2_53, M1, M2, SHIFTS, UNIT_SHIFT

F = TypeVar("F", bound=Callable[..., Any])


def jit(f: F) -> F:
    """``numba.njit`` with an on-disk cache, typed for mypy."""
    return cast(F, numba.njit(cache=True, nogil=True)(f))


# stream ids: one per named random decision
TRANSMISSION = 1  # + layer index: stream TRANSMISSION * 100 + layer
SYMPTOMATIC = 2
LATENT = 3
PRESYMPTOMATIC = 4
SYMPTOMATIC_INFECTIOUS = 5
ASYMPTOMATIC_INFECTIOUS = 6
SEEDING = 7

# the SplitMix64 constants of schoolmode.draws (its numpy reference is draws.uniform_at)
_GOLDEN = GOLDEN
_M1 = M1
_M2 = M2
_S30, _S27, _S31 = SHIFTS
_S11 = UNIT_SHIFT
_INV53 = INV_2_53


@jit
def _mix(z: np.uint64) -> np.uint64:
    z = z + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@jit
def uniform(seed: int, stream: int, a: int, b: int, c: int) -> float:
    h = _mix(np.uint64(seed))
    h = _mix(h ^ np.uint64(stream))
    h = _mix(h ^ np.uint64(a))
    h = _mix(h ^ np.uint64(b))
    h = _mix(h ^ np.uint64(c))
    return float(h >> _S11) * _INV53


@jit
def uniforms(seed: int, stream: int, a: np.ndarray, b: int, c: int) -> np.ndarray:
    """``uniform(seed, stream, a[i], b, c)`` for each ``i``."""
    out = np.empty(a.shape[0], dtype=np.float64)
    for i in range(a.shape[0]):
        out[i] = uniform(seed, stream, a[i], b, c)
    return out


# streams of the policy loop (sim/loop.py); coordinates in docs/simulator.md
IMPORTATION = 20
STAY_HOME = 21
SYMPTOM_TEST = 22
BACKGROUND_SYMPTOMS = 23
TEST_INVALID = 24
TEST_RESULT = 25
CONSENT = 26
SCREEN_STAFF = 27
SCREEN_STUDENT = 28
POOL_RESULT = 29
SUBSTITUTE = 30
TRACE_ORDER = 31
VACCINE_ORDER = 32
VACCINE_INITIAL = 33
TTS_TEST = 34
PRIOR_INFECTION = 35
SEED_WEEKDAY = 36
VACCINE_SCHOOL = 37
SEED_STAGE_PICK = 41
SEED_STAGE_AGE = 42
RECOVERED_SEEDING = 43

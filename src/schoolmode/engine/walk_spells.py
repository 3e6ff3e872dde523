"""The walk of ``states.run_spells`` compiled with numba, unit by unit: a unit's spells depend
only on its own rows, and a day on which a unit is neither in a spell nor waiting for one and
nothing starts one leaves it as it was (the vectorised walk's idle days), so walking each unit
over every day gives what the walk over all units at once gives (tested equal). The walk is
compiled (or loaded from numba's cache) on the first call; ``run_spells`` calls it only in a
process that has numba loaded already (the simulator's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_COMPILED: list[Callable[..., None]] = []


def walk(*args: Any) -> None:
    """``_walk``, compiled on the first call."""
    if not _COMPILED:
        import numba  # heavy: only when a spell is walked

        _COMPILED.append(numba.njit(cache=True, nogil=True)(_walk))
    _COMPILED[0](*args)


def _walk(
    trigger: np.ndarray,
    exit_ok: np.ndarray,
    start_at: np.ndarray,
    min_end: np.ndarray,
    max_end: np.ndarray,
    authorised: np.ndarray,
    has_authorised: bool,
    automatic: bool,
    return_at: np.ndarray,
    notice: bool,
    never: int,
    in_effect: np.ndarray,
    started: np.ndarray,
    earliest_end: np.ndarray,
) -> None:
    """Fill ``in_effect``, ``started`` and ``earliest_end`` (units x days, given False, -1
    and -1) as ``states.run_spells_vectorised`` does. A spell opened on ``at`` (a start past
    the horizon shifts the calendar ends with it) gets its earliest end, its earliest return
    after the return notice and its latest end from the day ``min(at, days - 1)``."""
    units, days = trigger.shape
    for u in range(units):
        active = False
        pending = -1
        start = -1
        earliest = 0
        latest = 0
        back = -1  # a return announced, taking effect that day
        earliest_back = 0
        for d in range(days):
            if notice and back == d:
                active = False
                back = -1
            if pending == d:
                active = True
                pending = -1
            opens, opening = False, d
            if has_authorised and authorised[u, d] and not active:
                opens = True
                active = True
            for phase in range(2):  # 0: after the authorisations, 1: after a new trigger
                if opens:
                    start = opening
                    s = min(opening, days - 1)
                    extra = opening - s
                    earliest = min(min_end[s] + extra, never) if min_end[s] < never else never
                    earliest_back = earliest
                    if notice and 0 <= earliest - 1 < days:
                        earliest_back = max(earliest, return_at[earliest - 1])
                    latest = min(max_end[s] + extra, never) if max_end[s] < never else never
                    opens = False
                if phase == 0:
                    if active:
                        in_effect[u, d] = True
                        started[u, d] = start
                        earliest_end[u, d] = earliest_back
                    if automatic and trigger[u, d] and not active and pending < 0:
                        pending = start_at[d]
                        opens, opening = True, pending
            if not active:
                continue
            if not notice:
                if (d + 1 >= earliest and exit_ok[u, d]) or d + 1 >= latest:
                    active = False
                continue
            if d + 1 >= latest:
                active = False
                back = -1
                continue
            if back < 0 and d + 1 >= earliest and exit_ok[u, d]:
                when = return_at[d]
                if when <= d + 1:
                    active = False
                else:
                    back = when

"""Turn daily triggers into spells of a mode: notice, minimum and maximum duration, exit.

Timing conventions (documented in docs/policy-format.md):

* A rule evaluated on day d uses data through d. With ``notice`` of N days in a unit, the
  effect starts on the (N+1)-th day of that unit after d: N=0 calendar days (the
  default) starts it the next calendar day; 2 school days of notice after a Sunday
  decision keep Monday and Tuesday in person and start on Wednesday.
* ``min_duration`` of M days: the earliest day back is the (M+1)-th day of the unit
  counted from the first day of the effect (5 school days from Thursday 20 January 2022
  gives Thursday 27 January; 14 calendar days from 3 May gives 17 May).
* After the minimum, the effect ends the day after ``exit_when`` holds (by default, the
  day after the trigger no longer holds); it always ends at ``max_duration``.

The state of a unit on one day depends on the day before, so this is the one place the engine
iterates: a compiled walk over each unit's days (``walk_spells``). The reference,
``run_spells_vectorised``, runs over days with every step vectorised over units and skips the
days on which no unit is in a spell or waiting for one and nothing can start one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schoolmode.engine.grid import Axis
from schoolmode.engine.rational import Bool, Int
from schoolmode.engine.walk_spells import walk

NEVER = np.iinfo(np.int32).max  # "no end" (past any horizon); spell arrays are int32


def advance(axis: Axis, days: int, unit: str, *, inclusive_start: bool) -> Int:
    """For each day index d, the index ``days`` units later.

    With ``inclusive_start`` (durations) day d itself is the first counted day when it is
    a day of the unit; otherwise (notice) counting starts the day after d. Past the end of
    the axis the result extrapolates on the calendar (or is NEVER for school days).
    """
    positions = np.arange(axis.days, dtype=np.int64)
    if unit == "calendar_days":
        return positions + days + (0 if inclusive_start else 1)
    school = axis.school_positions()
    # ordinal of the first school day at or after d (inclusive) / strictly after d
    first_at_or_after = np.searchsorted(school, positions, side="left")
    first_after = np.searchsorted(school, positions, side="right")
    ordinal = (first_at_or_after if inclusive_start else first_after) + days
    out = np.full(axis.days, NEVER, dtype=np.int64)
    inside = ordinal < len(school)
    out[inside] = school[ordinal[inside]]
    return out


@dataclass
class Spells:
    in_effect: Bool  # (units, days)
    started: Int  # (units, days): start index of the spell in effect, -1 otherwise
    earliest_end: Int  # (units, days): first index the unit may be out of the spell


def run_spells(
    trigger: Bool,
    exit_ok: Bool,
    start_at: Int,
    min_end: Int,
    max_end: Int,
    authorised: Bool | None = None,
    automatic: bool = True,
    return_at: Int | None = None,
) -> Spells:
    """Walk the days once, each unit in turn (``walk_spells``, compiled; the same as
    :func:`run_spells_vectorised`, tested), when the process has numba loaded already (the
    simulator's does); otherwise the vectorised walk (importing numba would cost more than a
    command's few walks save).

    ``return_at[d]``: the day a return decided on day d takes effect (the return notice;
    None: the next day). A scheduled return stands; ``max_end`` still ends a spell on time."""
    if "numba" not in sys.modules:
        return run_spells_vectorised(
            trigger, exit_ok, start_at, min_end, max_end, authorised, automatic, return_at
        )
    units, days = trigger.shape
    out = Spells(
        np.zeros((units, days), dtype=bool),
        np.full((units, days), -1, dtype=np.int32),
        np.full((units, days), -1, dtype=np.int32),
    )
    can_start = trigger.any() if automatic else (authorised is not None and bool(authorised.any()))
    if not can_start:  # nothing can ever start a spell: skip the walk
        return out

    def ints(a: Int) -> Int:
        return np.ascontiguousarray(a, dtype=np.int64)

    notice = return_at is not None and bool((np.asarray(return_at) > np.arange(days) + 1).any())
    walk(
        np.ascontiguousarray(trigger, dtype=bool),
        np.ascontiguousarray(exit_ok, dtype=bool),
        ints(start_at),
        ints(min_end),
        ints(max_end),
        np.zeros((0, 0), dtype=bool)
        if authorised is None
        else np.ascontiguousarray(authorised, dtype=bool),
        authorised is not None,
        automatic,
        np.zeros(0, dtype=np.int64) if return_at is None else ints(return_at),
        notice,
        NEVER,
        out.in_effect,
        out.started,
        out.earliest_end,
    )
    return out


def run_spells_vectorised(
    trigger: Bool,
    exit_ok: Bool,
    start_at: Int,
    min_end: Int,
    max_end: Int,
    authorised: Bool | None = None,
    automatic: bool = True,
    return_at: Int | None = None,
) -> Spells:
    """``run_spells`` with every operation inside the loop over all units (the reference the
    compiled walk is tested equal to)."""
    units, days = trigger.shape
    can_start = trigger.any() if automatic else (authorised is not None and bool(authorised.any()))
    if not can_start:  # nothing can ever start a spell: skip the walk
        return Spells(
            np.zeros((units, days), dtype=bool),
            np.full((units, days), -1, dtype=np.int32),
            np.full((units, days), -1, dtype=np.int32),
        )
    active = np.zeros(units, dtype=bool)
    pending = np.full(units, -1, dtype=np.int64)
    start = np.full(units, -1, dtype=np.int64)
    earliest = np.zeros(units, dtype=np.int64)
    latest = np.zeros(units, dtype=np.int64)
    in_effect = np.zeros((units, days), dtype=bool)
    started = np.full((units, days), -1, dtype=np.int32)
    earliest_end = np.full((units, days), -1, dtype=np.int32)
    back = np.full(units, -1, dtype=np.int64)  # a return announced, taking effect that day
    earliest_back = np.zeros(units, dtype=np.int64)  # the earliest return, after its notice
    notice = return_at is not None and bool((np.asarray(return_at) > np.arange(days) + 1).any())

    def _open(mask: npt.NDArray[np.bool_], at: int) -> None:
        start[mask] = at
        s = min(at, days - 1)
        extra = at - s  # a start past the horizon shifts the calendar ends with it
        first = min(int(min_end[s]) + extra, NEVER) if min_end[s] < NEVER else NEVER
        earliest[mask] = first
        if notice and return_at is not None and 0 <= first - 1 < days:
            first = max(first, int(return_at[first - 1]))  # the earliest return, announced
        earliest_back[mask] = first
        latest[mask] = min(int(max_end[s]) + extra, NEVER) if max_end[s] < NEVER else NEVER

    # days on which an idle state (no unit in a spell or waiting for one) can change: the walk
    # jumps from an idle day to the next of these, the days between changing nothing
    events = trigger.any(axis=0) if automatic else np.zeros(days, dtype=bool)
    if authorised is not None:
        events = events | authorised.any(axis=0)
    following = np.flatnonzero(events)
    d = -1
    while d + 1 < days:
        d += 1
        if not active.any() and not (pending >= 0).any():
            at_or_after = np.searchsorted(following, d)
            if at_or_after == following.size:
                break
            d = int(following[at_or_after])
        if notice:
            returning = back == d
            if returning.any():
                active &= ~returning
                back[returning] = -1
        begins = pending == d
        if begins.any():
            active |= begins
            pending[begins] = -1
        if authorised is not None:
            granted = authorised[:, d] & ~active
            if granted.any():
                _open(granted, d)
                active |= granted
        in_effect[:, d] = active
        started[:, d] = np.where(active, start, -1)
        earliest_end[:, d] = np.where(active, earliest_back, -1)
        if automatic:
            new = trigger[:, d] & ~active & (pending < 0)
            if new.any():
                at = int(start_at[d])
                pending[new] = at
                _open(new, at)
        if active.any():
            if not notice:
                ends = active & (((d + 1 >= earliest) & exit_ok[:, d]) | (d + 1 >= latest))
                active &= ~ends
                continue
            assert return_at is not None
            hard = active & (d + 1 >= latest)
            active &= ~hard
            back[hard] = -1
            exits = active & (back < 0) & (d + 1 >= earliest) & exit_ok[:, d]
            if exits.any():
                when = int(return_at[d])
                if when <= d + 1:
                    active &= ~exits
                else:
                    back[exits] = when
    return Spells(in_effect, started, earliest_end)
